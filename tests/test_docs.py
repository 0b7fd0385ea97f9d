"""Every command of `dynaquery` and every route of the API is documented: named in the README or
in docs/. A command counts as named when the text says `dynaquery` and its words, or starts
inline code with them (alternatives may be joined with `|`: `dynaquery datasource add|list`,
`query show|edit`); a route, when the text says its method and path (`GET, PUT
/api/datasources/{id}`, parameters named as one likes)."""

from __future__ import annotations

import hashlib
import itertools
import re

import click
import pytest

from support import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_WORDS = r"[a-z][a-z-]*(?:\|[a-z][a-z-]*)*"
COMMAND_MENTION = re.compile(rf"(?:\bdynaquery |`(?:dynaquery )?)({_WORDS}(?: {_WORDS})*)")
_METHOD = "GET|POST|PUT|PATCH|DELETE"
ROUTE_MENTION = re.compile(rf"\b((?:{_METHOD})(?:, (?:{_METHOD}))*) (/api[^\s`?]*)")


def documentation() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)


def command_names(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    """'datasource add', ...: every command and group under `group`, the hidden ones aside."""
    names = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        names.append(" ".join((*prefix, name)))
        if isinstance(command, click.Group):
            names += command_names(command, (*prefix, name))
    return names


def mentioned_commands(text: str) -> set[str]:
    """'datasource', 'datasource add', 'datasource list' for `dynaquery datasource add|list`."""
    found = set()
    for match in COMMAND_MENTION.finditer(text):
        choices = [word.split("|") for word in match.group(1).split()]
        for length in range(1, len(choices) + 1):
            found.update(" ".join(words) for words in itertools.product(*choices[:length]))
    return found


def route_names(app) -> list[str]:
    """'GET /api/datasources/{}', ...: every route under /api that the API's OpenAPI document
    describes (parameters unnamed)."""
    return sorted(
        f"{method.upper()} {_unnamed(path)}"
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api")
        for method in operations
    )


def mentioned_routes(text: str) -> set[str]:
    return {
        f"{method} {_unnamed(path)}"
        for methods, path in ROUTE_MENTION.findall(text)
        for method in methods.split(", ")
    }


def _unnamed(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def undocumented_commands(group: click.Group, text: str) -> list[str]:
    mentioned = mentioned_commands(text)
    return [name for name in command_names(group) if name not in mentioned]


def undocumented_routes(app, text: str) -> list[str]:
    mentioned = mentioned_routes(text)
    return [name for name in route_names(app) if name not in mentioned]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dynaquery import Workspace
    from dynaquery.server import create_app

    workspace = Workspace.open(home=tmp_path_factory.mktemp("docs-home"))
    yield create_app(workspace, hashlib.sha256(b"any token").hexdigest())
    workspace.close()


def test_every_command_is_documented():
    from dynaquery.cli import cli

    missing = undocumented_commands(cli, documentation())
    assert not missing, (
        "commands named nowhere in README.md or docs/ (as `dynaquery COMMAND`): "
        + ", ".join(missing)
    )


def test_every_api_route_is_documented(app):
    assert len(route_names(app)) > 10  # the routes were found
    missing = undocumented_routes(app, documentation())
    assert not missing, (
        "API routes named nowhere in README.md or docs/ (as `METHOD /api/...`): "
        + ", ".join(missing)
    )


def test_an_undocumented_command_or_route_is_named():
    from fastapi import FastAPI

    group = click.Group(
        commands=[
            click.Group("datasource", commands=[click.Command("add"), click.Command("rename")]),
            click.Command("secret", hidden=True),
        ]
    )
    text = "`dynaquery datasource add|list NAME`"
    assert undocumented_commands(group, text) == ["datasource rename"]
    assert undocumented_commands(group, text + " and `datasource rename OLD NEW`") == []
    assert undocumented_commands(group, "dynaquery datasource rename") == ["datasource add"]

    extra = FastAPI()
    extra.get("/api/things/{thing_id}")(lambda thing_id: None)
    extra.put("/api/things/{thing_id}")(lambda thing_id: None)
    assert undocumented_routes(extra, "| `GET /api/things/{id}?full=` | a thing |") == [
        "PUT /api/things/{}"
    ]
    assert undocumented_routes(extra, "`GET, PUT /api/things/{name}`") == []
