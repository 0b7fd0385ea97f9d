"""The layering, checked on the source: no import cycle, and core <- workspace <- cli / server.

Every module of src/dynaquery is parsed (nothing is imported, no server is needed), and its
imports are read wherever they are, in functions too: an import that waits until it is needed is
still a dependency. Only imports under `if TYPE_CHECKING:` are left out, as they never run.

A module's layer follows from the first name after `dynaquery.`, so `cli.py` and a `cli/`
package (and every module in it) are the same layer. A module may import its own layer and the
layers below it:

    core        everything not named below (`local`, which starts DynamoDB Local and moto for
                the tests and the demo, is core too: it imports only the core)
    workspace   workspace, store, encryption, templates, migrations, recorder, journal, users;
                `demo`,
                which fills a workspace with the demo's data source; and the package's `__init__`, the
                library's front, which exports the core and, lazily, the Workspace
    server      the JSON API
    cli         the command, and `__main__`; above the server only so that `dynaquery serve`
                can start it: nothing imports the CLI, and only the CLI imports the server
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dynaquery"
LAYER_NAMES = ("core", "workspace", "server", "cli")
LAYERS = {
    "workspace": 1,
    "store": 1,
    "encryption": 1,
    "templates": 1,
    "migrations": 1,
    "recorder": 1,
    "journal": 1,
    "users": 1,
    "demo": 1,
    "": 1,  # the package's __init__
    "server": 2,
    "cli": 3,
    "__main__": 3,
}
MODULE_SUFFIXES = (".py", ".so", ".pyd", ".c")  # a C extension's source: a clean tree has no .so
TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package, by dotted name (`dynaquery.cli.run`), and its file."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*")):
        if path.suffix not in MODULE_SUFFIXES or "__pycache__" in path.parts:
            continue
        parts = [package.name, *path.relative_to(package).parent.parts, path.name.split(".")[0]]
        if parts[-1] == "__init__":
            parts.pop()
        found.setdefault(".".join(parts), path)
    return found


def _runtime_nodes(nodes):
    """The nodes and all they hold, except the bodies of `if TYPE_CHECKING:`."""
    for node in nodes:
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING:
            yield from _runtime_nodes(node.orelse)
        else:
            yield node
            yield from _runtime_nodes(ast.iter_child_nodes(node))


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]
) -> set[str | None]:
    """The modules of the package an import statement loads (None: one from elsewhere)."""
    if isinstance(node, ast.Import):
        return {_nearest_module(alias.name, known) for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = ".".join(package[: len(package) - node.level + 1])
        base = f"{anchor}.{base}" if base else anchor
    # `from base import name`: the module base.name when there is one, else base itself
    return {
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else _nearest_module(base, known)
        for alias in node.names
    }


def _nearest_module(name: str, known: set[str]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that `module` imports, at any depth of its code."""
    if path.suffix != ".py":
        return set()
    is_package = path.name == "__init__.py"
    found: set[str | None] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= _targets(node, module, is_package, known)
    return {target for target in found if target and target != module}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    found = modules(package)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle of each group of modules that import each other, as a path back to its start."""
    found = []
    for group in _strongly_connected(graph):
        if len(group) > 1:
            found.append(_cycle_through(min(group), graph, group))
    return sorted(found)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that can each reach the others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for step in sorted(graph[node]):
            if step not in index:
                visit(step)
                low[node] = min(low[node], low[step])
            elif step in stack:
                low[node] = min(low[node], index[step])
        if low[node] == index[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _cycle_through(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest path from `start` back to it, inside its group."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for step in sorted(graph[node] & group):
            if step == start:
                return paths[node] + [start]
            if step not in paths:
                paths[step] = paths[node] + [step]
                queue.append(step)
    raise AssertionError(f"no cycle through {start}")


def layer(module: str) -> int:
    first = module.split(".")[1] if "." in module else ""
    return LAYERS.get(first, 0)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a module from a layer above its own, said in words."""
    return sorted(
        f"{module} ({LAYER_NAMES[layer(module)]}) imports {target} ({LAYER_NAMES[layer(target)]})"
        for module, targets in graph.items()
        for target in targets
        if layer(target) > layer(module)
    )


# -- the project --------------------------------------------------------------------------------


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_module_imports_a_layer_above_its_own():
    found = upward_imports(import_graph())
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_the_checker_sees_the_package():
    graph = import_graph()
    assert {"dynaquery", "dynaquery.errors", "dynaquery.workspace"} <= set(graph)
    assert "dynaquery.errors" in graph["dynaquery.workspace"]


# -- the checker itself, on a made-up package ------------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / "dynaquery"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_the_checker_finds_cycles_and_upward_imports(tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "from .connection import connect\n",
            "connection.py": "def run():\n    from .execution import run\n",
            "execution.py": "from . import connection\n",
            "values.py": "def f():\n    import dynaquery.store\n",
            "store.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .cli import main\n",
            "cli/__init__.py": "from . import run\nfrom ..server import app\n",
            "cli/run.py": "from .. import values\nfrom ..errors import Problem\n",
            "server/__init__.py": "from dynaquery.cli.run import x\n",
            "errors.py": "",
        },
    )
    graph = import_graph(package)
    assert graph["dynaquery.cli.run"] == {"dynaquery.values", "dynaquery.errors"}
    assert graph["dynaquery.store"] == set()  # under TYPE_CHECKING: never runs
    assert cycles(graph) == [
        ["dynaquery.connection", "dynaquery.execution", "dynaquery.connection"]
    ]
    assert upward_imports(graph) == [
        "dynaquery.server (server) imports dynaquery.cli.run (cli)",
        "dynaquery.values (core) imports dynaquery.store (workspace)",
    ]


def test_the_checker_names_a_longer_cycle(tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "import dynaquery.c\n",
            "c.py": "def later():\n    from .a import thing\n",
            "d.py": "from . import a\n",
        },
    )
    assert cycles(import_graph(package)) == [
        ["dynaquery.a", "dynaquery.b", "dynaquery.c", "dynaquery.a"]
    ]
