"""Bad input, generated: every input ends in a result or a structured error, never a crash.

The families: parameter text, AttributeValues in every place the model has them, templates and
their values, operation names, the command line (click's CliRunner; nothing reaches the network:
the endpoint is http://127.0.0.1:9, which refuses at once) and the JSON API (FastAPI's TestClient
over a temporary workspace).

The normal suite runs a few thousand inputs. DYNAQUERY_FUZZ_EXAMPLES=N (scripts/fuzz) scales every
family so that about N inputs run in all; the number each family ran is printed at the end.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from dynaquery import prepare
from dynaquery.catalog import catalog
from dynaquery.errors import DynaqueryError
from dynaquery.values import AV

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

# Suite sizes; DYNAQUERY_FUZZ_EXAMPLES scales them to about that many inputs in all.
SIZES = {
    "params text": 400,
    "attribute values": 400,
    "templates": 300,
    "template values": 250,
    "operation names": 300,
    "cli": 150,
    "api": 250,
}
_TOTAL = int(os.environ.get("DYNAQUERY_FUZZ_EXAMPLES") or 0)
_SCALE = max(1.0, _TOTAL / sum(SIZES.values())) if _TOTAL else 1.0
RAN: Counter = Counter()
SLOW = 10.0  # seconds: an input that takes longer counts as a hang


def fuzz(family: str, share: float = 1.0):
    return settings(
        max_examples=max(1, int(SIZES[family] * share * _SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is not None and capture is not None and RAN:
        with capture.global_and_fixture_disabled():
            _write_counts(reporter)


def _write_counts(reporter) -> None:
    reporter.write_line("")
    reporter.write_line("fuzz: generated inputs per family")
    for family in SIZES:
        reporter.write_line(f"  {family:<18} {RAN[family]:>8}")
    reporter.write_line(f"  {'total':<18} {sum(RAN.values()):>8}")


def outcome(family: str, call, *args, **kwargs):
    """Run one call: a result or a DynaqueryError (returned), anything else fails the test."""
    started = time.monotonic()
    try:
        result = call(*args, **kwargs)
    except DynaqueryError as error:
        assert error.message and isinstance(error.message, str)
        assert error.to_dict()["error"] and error.exit_code in (1, 2)
        result = error
    assert time.monotonic() - started < SLOW, "took too long"
    return result


# -- the generators --------------------------------------------------------------------------

# Text of every kind: unicode, control characters, lone surrogates (JSON's \ud800 gives those).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
names = (
    st.sampled_from(
        [
            "TableName",
            "Key",
            "Item",
            "Limit",
            "S",
            "N",
            "M",
            "L",
            "B",
            "SS",
            "NS",
            "BS",
            "NULL",
            "BOOL",
            "a",
            ":v",
            "#n",
            "",
            "x" * 300,
        ]
    )
    | any_text
)
numbers = (
    st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.sampled_from(
        [
            Decimal("1e999999999"),
            Decimal("-1E-999999999"),
            Decimal("0E-10"),
            10**38,
            -(10**38) + 1,
            Decimal("1" * 39),
            Decimal("-0"),
        ]
    )
)
scalars = st.none() | st.booleans() | numbers | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=20,
)
TAGS = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]
b64 = st.binary(max_size=12).map(lambda b: __import__("base64").b64encode(b).decode())
number_text = numbers.map(str) | st.sampled_from(
    ["NaN", "Infinity", "-inf", "1e130", "1e-131", "0x10", " 1", "1_000", "", "--1", "1.", ".5"]
)


def attribute_values():
    """Plain and typed values, well-formed and not: what a user may put where an AttributeValue
    goes, including Python values only a library caller can give (floats, bytes, sets)."""

    def typed(inner):
        good = st.one_of(
            st.builds(lambda v: {"S": v}, any_text),
            st.builds(lambda v: {"N": v}, number_text),
            st.builds(lambda v: {"B": v}, b64 | st.binary(max_size=8) | any_text),
            st.builds(lambda v: {"SS": v}, st.lists(any_text, max_size=3)),
            st.builds(lambda v: {"NS": v}, st.lists(number_text, max_size=3)),
            st.builds(lambda v: {"BS": v}, st.lists(b64, max_size=3)),
            st.builds(lambda v: {"M": v}, st.dictionaries(names, inner, max_size=3)),
            st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3)),
            st.builds(lambda v: {"NULL": v}, st.just(True) | scalars),
            st.builds(lambda v: {"BOOL": v}, st.booleans() | scalars),
        )
        wrong = st.builds(lambda tag, v: {tag: v}, st.sampled_from(TAGS), inner)
        two = st.builds(
            lambda a, b, v, w: {a: v, b: w},
            st.sampled_from(TAGS),
            st.sampled_from(TAGS),
            inner,
            inner,
        )
        return good | wrong | two

    python_only = st.floats() | st.binary(max_size=8) | st.frozensets(st.integers(), max_size=3)
    return st.recursive(
        scalars | python_only,
        lambda inner: (
            typed(inner) | st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3)
        ),
        max_leaves=12,
    )


def _plans():
    found = []
    for op in catalog():
        if op.input_plan:
            found.append((op.name, op.input_plan))
    return found


PLANS = _plans()


def from_plan(plan, values):
    """Parameters shaped by a plan, with generated values wherever an AttributeValue goes."""
    if plan is AV:
        return values
    kind, sub = plan
    if kind == "struct":
        return st.fixed_dictionaries(
            {}, optional={m: from_plan(sub[m], values) for m in sorted(sub)}
        )
    if kind == "list":
        return st.lists(from_plan(sub, values), max_size=3)
    return st.dictionaries(names, from_plan(sub, values), max_size=3)


# Text that is nearly JSON: tokens of JSON, comments, placeholders and junk, in any order.
TOKENS = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"TableName"',
    '"Key"',
    '"Item"',
    '"S"',
    '"N"',
    '"t"',
    "1",
    "-0",
    "1e999",
    "1e-999",
    "9" * 5000,
    "NaN",
    "Infinity",
    "-Infinity",
    "true",
    "null",
    "nul",
    "// c\n",
    "/* x */",
    "/*",
    "*/",
    '"\\u0000"',
    '"\\ud800"',
    '"\\',
    "'s'",
    " ",
    "\n",
    "\t",
    "\x00",
    "\x7f",
    "\u2028",
    "\ufeff",
    '"{{ x }}"',
    "{{ x }}",
    "{{",
    "}}",
    "{{ 1 }}",
    '"a{{ y }}b"',
    "\ue000",
    '"',
    "\\",
]
token_soup = st.lists(st.sampled_from(TOKENS) | any_text, max_size=25).map("".join)


def _dumps(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


@st.composite
def mutated_json(draw):
    """A valid JSON object's text, then broken: characters cut, inserted or replaced."""
    text = _dumps(draw(st.dictionaries(names, json_values, max_size=5)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["cut", "insert", "truncate"]))
        if action == "cut":
            text = text[:at] + text[at + 1 :]
        elif action == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS) | any_text) + text[at:]
        else:
            text = text[:at]
    return text


@st.composite
def deep(draw):
    depth = draw(st.sampled_from([10, 100, 500, 990, 1000, 1010, 5000, 100_000]))
    opener, closer = draw(
        st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"L":[', "]}"), ('{"M":{"a":', "}}")])
    )
    inner = opener * depth + "1" + closer * draw(st.sampled_from([depth, 0, depth // 2]))
    return draw(
        st.sampled_from(
            [
                inner,
                '{"TableName": "t", "Item": {"a": %s}}' % inner,
                '{"TableName": "t", "Key": %s}' % inner,
            ]
        )
    )


huge_numbers = st.builds(
    lambda d, e: '{"TableName": "t", "Limit": %s, "Item": {"n": %s}}' % (d, e),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.sampled_from(
        [
            "1e999999999999",
            "-1e-999999999",
            "1E+400",
            "0.%s1" % ("0" * 200),
            "NaN",
            "-Infinity",
            "1" * 4301,
        ]
    ),
)
param_texts = st.one_of(
    any_text, token_soup, mutated_json(), deep(), huge_numbers, json_values.map(_dumps)
)
op_names = st.sampled_from(catalog().names) | st.sampled_from(
    ["get_item", "query_table", "scan-table", "GETITEM", "get item", "list_tables"]
)


# -- the library -----------------------------------------------------------------------------


@fuzz("params text")
@given(op_names, param_texts)
def test_params_text_ends_in_a_request_or_an_input_error(name, text):
    RAN["params text"] += 1
    from dynaquery import parsing

    outcome("params text", prepare, name, text)
    result = outcome("params text", parsing.parse_params, text)
    assert isinstance(result, (dict, DynaqueryError))


AVS = attribute_values()
PLACES = st.one_of([st.tuples(st.just(name), from_plan(plan, AVS)) for name, plan in PLANS])


@fuzz("attribute values")
@given(PLACES, st.booleans())
def test_attribute_values_in_every_place_end_in_a_request_or_an_input_error(case, as_text):
    RAN["attribute values"] += 1
    name, params = case
    if as_text:  # as JSON text: the values a user can type
        try:
            text = json.dumps(params, default=_json_default, allow_nan=True)
        except (TypeError, ValueError):
            return
        outcome("attribute values", prepare, name, text)
    else:
        outcome("attribute values", prepare, name, params)


def _json_default(value):
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, (bytes, frozenset)):
        return list(value) if isinstance(value, frozenset) else value.decode("latin-1")
    raise TypeError


placeholder_names = st.sampled_from(["x", "y", "team", "a.b", "a-b", "_", "Z9"]) | st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True
)


@st.composite
def templates_text(draw):
    """A query text with placeholders where a value goes, inside strings, as keys, and broken."""
    holes = draw(st.lists(placeholder_names, min_size=1, max_size=4))
    forms = [
        lambda n: "{{ %s }}" % n,
        lambda n: '"{{%s}}"' % n,
        lambda n: '"k#{{ %s }}#"' % n,
        lambda n: "{{ %s" % n,
        lambda n: "{{ %s }" % n,
        lambda n: '"{{ %s }}}"' % n,
        lambda n: "{{{ %s }}}" % n,
        lambda n: "[{{ %s }}, {{ %s }}]" % (n, n),
    ]
    parts = ['"TableName": "t"']
    for name in holes:
        key = draw(
            st.sampled_from(
                ['"Limit"', '"Key"', '"ExpressionAttributeValues"', '"x"', '"{{ %s }}"' % name]
            )
        )
        parts.append(f"{key}: {draw(st.sampled_from(forms))(name)}")
    text = "{" + ", ".join(parts) + draw(st.sampled_from(["}", ",}", "", "} // c", "}}"]))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(TOKENS) | any_text) + text[at:]
    return text


template_inputs = templates_text() | token_soup | param_texts
value_maps = st.dictionaries(placeholder_names | any_text, json_values | AVS, max_size=4)


@fuzz("templates")
@given(template_inputs, value_maps, value_maps, st.booleans(), op_names)
def test_templates_render_or_fail_with_an_input_error(text, values, defaults, missing_ok, name):
    from dynaquery import templates

    RAN["templates"] += 1
    template = outcome("templates", templates.parse, text)
    if isinstance(template, DynaqueryError):
        return
    used = {n: v for n, v in values.items() if n in template.names}
    rendered = outcome("templates", template.render, values, defaults, missing_ok=missing_ok)
    rendered = outcome("templates", template.render, used, defaults, missing_ok=missing_ok)
    if not isinstance(rendered, DynaqueryError):
        params, holes = rendered
        assert all(n in template.names for _, n in holes)
        if isinstance(params, dict):
            outcome("templates", prepare, name, params)


@fuzz("template values")
@given(
    any_text
    | placeholder_names.flatmap(
        lambda n: st.tuples(
            st.sampled_from(["=", ":="]), param_texts | json_values.map(_dumps)
        ).map(lambda t: n + t[0] + t[1])
    ),
    param_texts | value_maps.map(_dumps),
)
def test_placeholder_values_parse_or_fail_with_an_input_error(assignment, values_json):
    from dynaquery import templates

    RAN["template values"] += 1
    result = outcome("template values", templates.parse_assignment, assignment)
    assert isinstance(result, (tuple, DynaqueryError))
    result = outcome("template values", templates.parse_values_json, values_json)
    assert isinstance(result, (dict, DynaqueryError))


@st.composite
def misspelled(draw):
    name = draw(st.sampled_from(catalog().names + ["get_item", "query_table", "scan_table"]))
    style = draw(
        st.sampled_from([str.lower, str.upper, lambda s: s, lambda s: s.replace("_", "-")])
    )
    name = style(name)
    at = draw(st.integers(0, len(name)))
    return (
        name[:at]
        + draw(st.sampled_from(["", "x", " ", "_", "-", "\x00", "é", "\u200b"]))
        + name[at + 1 :]
    )


@fuzz("operation names")
@given(any_text | misspelled() | st.sampled_from(["", " ", "-", "_", "__", "x" * 10_000]))
def test_operation_names_resolve_or_fail_with_an_input_error(name):
    RAN["operation names"] += 1
    result = outcome("operation names", catalog().get, name)
    assert result.__class__.__name__ in ("Operation", "UnknownOperationError")


# -- the command line ------------------------------------------------------------------------

SAFE_FLAGS = [
    "--endpoint-url",
    "http://127.0.0.1:9",
    "--region",
    "us-east-1",
    "--access-key-id",
    "fuzz",
    "--secret-access-key",
    "fuzz-secret",
    "--connect-timeout",
    "0.1",
    "--read-timeout",
    "0.1",
    "--max-attempts",
    "1",
]
# Real argv never holds NUL; on Linux undecodable bytes arrive as surrogate escapes.
argv_text = st.text(
    st.characters(codec=None, exclude_categories=("Cs",), exclude_characters="\x00")
    | st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
    max_size=20,
)
transforms = (
    st.sampled_from(
        [
            "Items[].name",
            "Items[0]",
            "length(@)",
            "[",
            "`1`",
            "foo(",
            "a.b",
            "Items[?x > `1`]",
            "@@",
            "&",
            "",
        ]
    )
    | argv_text
)
run_flags = st.lists(
    st.one_of(
        st.tuples(
            st.just("--output"),
            st.sampled_from(["json", "raw", "full", "table", "csv"]) | argv_text,
        ),
        st.tuples(st.just("--query"), transforms),
        st.tuples(
            st.just("--max-items"), st.sampled_from(["1", "0", "-1", "x", "1e3"]) | argv_text
        ),
        st.tuples(
            st.just("--batch-timeout"),
            st.sampled_from(["0", "-1", "nan", "inf", "1e309"]) | argv_text,
        ),
        st.tuples(st.just("--starting-token"), argv_text | st.sampled_from(["eyJ9", "{}", "e30="])),
        st.tuples(st.just("--retry-mode"), st.sampled_from(["standard", "nope"]) | argv_text),
        st.tuples(
            st.just("--region"), st.sampled_from(["eu-west-1", "a/b", "", "US_EAST"]) | argv_text
        ),
        st.tuples(st.just("--connect-timeout"), st.sampled_from(["-1", "0", "nan", "x"])),
        st.tuples(
            st.just("--max-attempts"), st.sampled_from(["0", "-1", "x", "99999999999999999999"])
        ),
        st.tuples(st.just("--profile"), argv_text),
        st.tuples(st.just("--auth"), st.sampled_from(["iam_credentials", "instance_profile", "x"])),
        st.tuples(st.just("--all-pages")),
        st.tuples(argv_text),
    ),
    max_size=3,
).map(lambda pairs: [a for pair in pairs for a in pair])


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")


@st.composite
def cli_argv(draw):
    """An argv and the stdin it reads; the safe connection flags come last, so they win."""
    stdin = draw(param_texts.map(_no_nul))
    params = draw(
        param_texts.map(_no_nul) | st.sampled_from(["-", "@/nonexistent.json", "@/", "@"])
    )
    kind = draw(
        st.sampled_from(["run", "run", "run", "test", "operations", "save", "query run", "junk"])
    )
    if kind == "run":
        argv = ["run", draw(op_names | argv_text), params, *draw(run_flags), *SAFE_FLAGS]
    elif kind == "test":
        argv = [
            "test",
            *draw(run_flags.filter(lambda f: "--output" not in f and "--query" not in f)),
            *SAFE_FLAGS,
        ]
    elif kind == "operations":
        argv = (
            ["operations", "show", draw(op_names | argv_text)]
            if draw(st.booleans())
            else ["operations", *draw(st.sampled_from([[], ["--json"], ["--x"]]))]
        )
    elif kind == "save":
        argv = [
            "query",
            "save",
            draw(argv_text | st.sampled_from(["q", "team", ""])),
            draw(op_names | argv_text),
            draw(templates_text() | st.just(params)).replace("\x00", ""),
            "-d",
            draw(st.sampled_from(["local", "nope"]) | argv_text),
        ]
        for _ in range(draw(st.integers(0, 2))):
            argv += draw(
                st.sampled_from(
                    [
                        ["--default", "x=1"],
                        ["--default", "x:=[1"],
                        ["--defaults-json", '{"x": 1}'],
                        ["--defaults-json", "[1]"],
                        ["--transform", "Items["],
                        ["--description", "d"],
                    ]
                )
            )
            argv += draw(st.sampled_from([[], ["--default", draw(argv_text)]]))
    elif kind == "query run":
        argv = [
            "query",
            "run",
            draw(st.sampled_from(["saved", "missing"]) | argv_text),
            "--dry-run" if draw(st.booleans()) else "--all-pages",
        ]
        for _ in range(draw(st.integers(0, 2))):
            argv += draw(
                st.sampled_from(
                    [
                        ["--param", draw(argv_text)],
                        ["--param", "team:=" + draw(argv_text)],
                        ["--params-json", _no_nul(draw(param_texts))],
                    ]
                )
            )
        argv += draw(
            run_flags.filter(
                lambda f: (
                    not {
                        "--region",
                        "--connect-timeout",
                        "--max-attempts",
                        "--profile",
                        "--auth",
                        "--retry-mode",
                    }
                    & set(f)
                )
            )
        )
    else:
        argv = draw(
            st.lists(
                argv_text
                | st.sampled_from(
                    [
                        "run",
                        "query",
                        "--help",
                        "-h",
                        "--version",
                        "history",
                        "workspace",
                        "datasource",
                    ]
                ),
                max_size=4,
            )
        )
        assume(not ({"datasource", "workspace"} & set(argv)))  # those write or read real things
        argv = [*argv, *SAFE_FLAGS] if argv[:1] == ["run"] else argv
    return argv, stdin


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory):
    """A workspace with a data source that refuses at once and a saved query with a placeholder."""
    from dynaquery import Workspace

    home = tmp_path_factory.mktemp("fuzz-home")
    with Workspace.open(home=home) as workspace:
        workspace.add_datasource(
            "local",
            endpoint_url="http://127.0.0.1:9",
            region="us-east-1",
            access_key_id="fuzz",
            secret_access_key="fuzz-secret",
            connect_timeout=0.1,
            read_timeout=0.1,
            max_attempts=1,
        )
        workspace.save_query(
            "saved",
            "local",
            "Query",
            '{"TableName": "users", "KeyConditionExpression": "team_id = :t",'
            ' "ExpressionAttributeValues": {":t": "{{ team }}"}}',
        )
    return home


@pytest.fixture
def quiet_env(cli_home, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AWS_", "DYNAQUERY_")) and name != "DYNAQUERY_FUZZ_EXAMPLES":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("DYNAQUERY_HOME", str(cli_home))
    return cli_home


def check_cli(argv: list[str], stdin: str) -> None:
    from click.testing import CliRunner

    from dynaquery.cli import cli

    RAN["cli"] += 1
    started = time.monotonic()
    # stdin is bytes: a lone surrogate arrives as the bytes that are not UTF-8
    data = stdin.encode("utf-8", "surrogatepass")
    result = CliRunner().invoke(cli, argv, input=data, prog_name="dynaquery")
    elapsed = time.monotonic() - started
    shown = f"argv={argv!r}\nexit={result.exit_code}\nstderr={result.stderr[-2000:]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    assert result.exit_code in (0, 1, 2), shown
    assert "Traceback" not in result.output and "Traceback" not in result.stderr, shown
    assert "Error: unexpected" not in result.stderr, shown
    if result.exit_code:  # a message, or click's usage (a group given no command)
        assert "Error:" in result.stderr or result.stderr.startswith("Usage:"), shown
    assert elapsed < SLOW, shown


@fuzz("cli")
@given(cli_argv())
def test_command_line_ends_in_an_exit_code_and_a_message(quiet_env, case):
    check_cli(*case)


# -- the API ---------------------------------------------------------------------------------

TOKEN = "fuzz-token-0123456789"


@pytest.fixture(scope="module")
def api_clients(cli_home, tmp_path_factory):
    """Two apps: one whose only data source refuses at once (check, run, queries), and one where
    generated data sources are added (they are never connected to)."""
    from fastapi.testclient import TestClient

    from dynaquery import Workspace
    from dynaquery.server import _digest, create_app

    runs = Workspace.open(home=cli_home)
    sources = Workspace.open(home=tmp_path_factory.mktemp("fuzz-api-datasources"))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    clients = {
        name: TestClient(create_app(ws, _digest(TOKEN)), headers=headers)
        for name, ws in (("runs", runs), ("sources", sources))
    }
    yield clients
    runs.close()
    sources.close()


junk = json_values | any_text
maybe = st.none() | junk


def body(**fields):
    """An object with some of the given fields (each a strategy), and sometimes a stray one."""
    return st.fixed_dictionaries({}, optional={**fields, "extra": junk})


check_bodies = body(
    operation=op_names | junk,
    params=param_texts | template_inputs | junk,
    transform=transforms | maybe,
)
run_bodies = body(
    datasource=st.sampled_from(["local", "nope"]) | junk,
    operation=op_names | junk,
    params=param_texts | template_inputs | PLACES.map(lambda c: c[1]) | junk,
    values=value_maps | junk,
    transform=transforms | maybe,
    all_pages=st.booleans() | junk,
    max_items=st.integers() | junk,
    starting_token=argv_text | st.sampled_from(["eyJ9", "e30="]) | junk,
    batch_timeout=st.floats() | st.integers(-5, 5) | junk,
)
query_bodies = body(
    name=argv_text | junk,
    datasource=st.sampled_from(["local", "nope"]) | junk,
    operation=op_names | junk,
    params=template_inputs | junk,
    transform=transforms | maybe,
    description=maybe,
    defaults=value_maps | junk,
)
setting_values = (
    argv_text
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.none()
    | st.sampled_from(
        [
            "http://127.0.0.1:9",
            "https://[::1",
            "ftp://x",
            "********",
            "",
            "iam_credentials",
            "role_arn",
            "adaptive",
        ]
    )
)
datasource_bodies = body(
    **{
        name: setting_values
        for name in (
            "name",
            "read_only",
            "description",
            "auth",
            "region",
            "endpoint_url",
            "access_key_id",
            "secret_access_key",
            "session_token",
            "profile",
            "role_arn",
            "external_id",
            "role_session_name",
            "role_duration_seconds",
            "sts_endpoint_url",
            "connect_timeout",
            "read_timeout",
            "max_attempts",
            "retry_mode",
        )
    }
)
ROUTES = {
    "/api/check": ("runs", check_bodies),
    "/api/run": ("runs", run_bodies),
    "/api/queries": ("runs", query_bodies),
    "/api/datasources": ("sources", datasource_bodies),
}


def _json_body(value) -> bytes:
    return json.dumps(value, default=_json_default, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def api_requests(draw):
    path = draw(st.sampled_from(sorted(ROUTES)))
    client, bodies = ROUTES[path]
    how = draw(st.sampled_from(["object", "object", "object", "any json", "bytes"]))
    if how == "object":
        content = _json_body(draw(bodies))
    elif how == "any json":
        content = _json_body(draw(junk))
    else:
        content = draw(
            st.binary(max_size=40) | token_soup.map(lambda t: t.encode("utf-8", "surrogatepass"))
        )
    return client, path, content


def check_api(client, path: str, content: bytes):
    RAN["api"] += 1
    started = time.monotonic()
    response = client.post(path, content=content, headers={"Content-Type": "application/json"})
    shown = f"POST {path} {content[:500]!r} -> {response.status_code} {response.text[:1000]}"
    assert time.monotonic() - started < SLOW, shown
    assert response.status_code < 500 or response.status_code == 502, shown
    assert 200 <= response.status_code < 300 or 400 <= response.status_code, shown
    answer = response.json()
    if response.status_code >= 400:
        assert isinstance(answer.get("error"), str) and isinstance(answer.get("message"), str), (
            shown
        )
    return response


@fuzz("api")
@given(api_requests())
def test_api_bodies_end_in_a_result_or_a_json_error(api_clients, quiet_env, case):
    client, path, content = case
    check_api(api_clients[client], path, content)


# -- inputs the fuzzer found -----------------------------------------------------------------


def test_a_list_nested_nearly_as_deep_as_the_parser_allows_renders_as_an_input_error():
    from dynaquery import templates
    from dynaquery.errors import InputError

    text = '{"TableName": "t", "Item": {"a": %s1%s}}' % ("[" * 900, "]" * 900)
    with pytest.raises(InputError, match="nested too deeply"):
        templates.parse(text).render({})


def test_a_missing_profile_given_with_keys_is_a_configuration_error(quiet_env):
    """`--profile ''` (or any unknown profile) with keys: once an 'unexpected ProfileNotFound'."""
    check_cli(["test", "--profile", "", *SAFE_FLAGS], "")
    check_cli(["run", "ListTables", "--profile", "nope", *SAFE_FLAGS], "")
    from click.testing import CliRunner

    from dynaquery.cli import cli

    result = CliRunner().invoke(cli, ["run", "ListTables", "--profile", "nope", *SAFE_FLAGS])
    assert result.exit_code == 2
    assert "The profile 'nope' is not in the AWS config files." in result.stderr


def test_parameters_on_stdin_that_are_not_utf8_are_an_input_error(quiet_env):
    from click.testing import CliRunner

    from dynaquery.cli import cli

    result = CliRunner().invoke(
        cli, ["run", "Scan", "-"], input=b'{"TableName": "\xed\xa0\x80"}', prog_name="dynaquery"
    )
    assert result.exit_code == 2 and "not UTF-8" in result.output
