"""The workspace commands, run for real against DynamoDB Local: datasource, query, history,
workspace export/import, and `run --datasource`."""

from __future__ import annotations

import json
import os
import sys

import pytest

from support import Endpoint, clean_env, dynaquery

SECRET = "sentinel-secret-" + "Zq9xW2vK4mP7"


class Home:
    """A workspace directory and the `dynaquery` command pointed at it."""

    def __init__(self, path, endpoint: Endpoint | None = None):
        self.path = path
        self.endpoint = endpoint
        self.outputs: list[str] = []

    def env(self, **extra: str) -> dict:
        return clean_env(DYNAQUERY_HOME=str(self.path), **extra)

    def __call__(self, *args: str, stdin: str | None = None, env: dict | None = None):
        done = dynaquery(*args, stdin=stdin, env=env or self.env())
        self.outputs += [done.stdout, done.stderr]
        return done

    def add_local(self, name: str = "local", *more: str):
        e = self.endpoint
        done = self(
            "datasource",
            "add",
            name,
            "--endpoint-url",
            e.endpoint_url,
            "--region",
            e.region,
            "--access-key-id",
            e.access_key,
            "--secret-access-key",
            SECRET,
            *more,
        )
        assert done.code == 0, done.stderr
        return done


@pytest.fixture
def home(tmp_path, dynamodb_local):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    h = Home(tmp_path / "home", endpoint)
    h.add_local()
    from dynaquery.demo import seed

    seed(endpoint.connection())
    return h


TEAM_QUERY = """{
    // the users of one team
    "TableName": "users",
    "KeyConditionExpression": "team_id = :t",
    "ExpressionAttributeValues": {":t": "{{ team }}"},
}"""


def test_add_test_save_run(home):
    done = home("datasource", "test", "local")
    assert done.code == 0 and done.stdout.startswith("ok: Connected to DynamoDB")
    assert (
        home(
            "query",
            "save",
            "team",
            "--datasource",
            "local",
            "query_table",
            TEAM_QUERY,
            "--description",
            "users of a team",
        ).code
        == 0
    )
    done = home("query", "run", "team", "--param", "team=team_1", "-o", "full")
    assert done.code == 0, done.stderr
    result = done.json()
    assert sorted(i["employee_id"] for i in result["data"]["Items"]) == ["emp_1", "emp_3"]
    assert result["meta"]["operation"] == "Query" and result["meta"]["count"] == 2
    # the same as `run` prints for the same query
    plain = home.endpoint.run("Query", TEAM_QUERY.replace("{{ team }}", "team_1"), "-o", "csv")
    saved = home("query", "run", "team", "-p", "team=team_1", "-o", "csv")
    assert saved.stdout == plain.stdout and "emp_1" in saved.stdout
    shown = home("query", "show", "team", "--params")
    assert shown.stdout == TEAM_QUERY + "\n"  # verbatim, comment and trailing comma kept
    listed = home("query", "list", "--json").json()
    assert [(q["name"], q["operation"], q["placeholders"]) for q in listed] == [
        ("team", "Query", ["team"])
    ]


def test_datasource_test_exits_as_test_does(home, tmp_path):
    assert (
        home(
            "datasource",
            "add",
            "nowhere",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--region",
            "us-east-1",
            "--access-key-id",
            "AKIA1",
            "--secret-access-key",
            SECRET,
            "--connect-timeout",
            "1",
        ).code
        == 0
    )
    done = home("datasource", "test", "nowhere", "--json")
    assert done.code == 1 and done.json()["ok"] is False
    assert "127.0.0.1:9" in done.json()["message"]
    same = home("test", "--datasource", "nowhere")
    assert same.code == 1 and "127.0.0.1:9" in same.stderr
    # refused when the test fails: nothing saved
    done = home(
        "datasource",
        "add",
        "bad",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
        "--test",
        "--connect-timeout",
        "1",
    )
    assert done.code == 1 and "not saved" in done.stderr
    assert "bad" not in [d["name"] for d in home("datasource", "list", "--json").json()]


def test_run_against_a_saved_data_source_with_an_override(home):
    done = home(
        "run",
        "GetItem",
        '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "emp_1"}}',
        "--datasource",
        "local",
        "--query",
        "Item.name",
    )
    assert (done.code, done.stdout.strip()) == (0, '"Aman"')
    done = home(
        "run",
        "ListTables",
        "--datasource",
        "local",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--connect-timeout",
        "1",
        "--max-attempts",
        "1",
    )
    assert done.code == 1 and "127.0.0.1:9" in done.stderr
    done = home("run", "ListTables", "--datasource", "lcoal")
    assert done.code == 2 and "did you mean 'local'" in done.stderr


def test_hostile_parameter_values(home):
    assert (
        home(
            "query",
            "save",
            "put",
            "-d",
            "local",
            "PutItem",
            """{"TableName": "users",
        "Item": {"team_id": "team_h", "employee_id": "{{ id }}", "name": "{{ name }}"}}""",
        ).code
        == 0
    )
    assert (
        home(
            "query",
            "save",
            "get",
            "-d",
            "local",
            "GetItem",
            """{"TableName": "users",
        "Key": {"team_id": "team_h", "employee_id": "{{ id }}"}}""",
            "--transform",
            "Item",
        ).code
        == 0
    )
    values = ['"}}, "admin": true, "x": "', "{{ id }}", "}}", '{"S": "x"}', "a'b\"c\\d"]
    for i, value in enumerate(values):
        assert (
            home("query", "run", "put", "--param", f"id=h{i}", "--param", f"name={value}").code == 0
        )
        item = home("query", "run", "get", "--params-json", json.dumps({"id": f"h{i}"})).json()
        assert item == {"team_id": "team_h", "employee_id": f"h{i}", "name": value}
    # := takes JSON; a fragment that is not one value is refused, nothing sent
    done = home("query", "run", "put", "--param", "id=h9", "--param", 'name:={"a": 1}, "b": 2')
    assert done.code == 2 and "--param name:= takes a JSON value" in done.stderr
    assert home("query", "run", "get", "-p", "id=h9").stdout.strip() == "null"
    done = home("query", "run", "put", "--param", "id=h9")
    assert (
        done.code == 2
        and "Missing value for parameter 'name': give --param name=VALUE" in done.stderr
    )
    dry = home("query", "run", "put", "-p", "id=x", "-p", 'name=}}"', "--dry-run")
    assert dry.json()["Item"]["name"] == '}}"'


def test_saving_a_bad_query_gives_the_errors_run_gives(home):
    bad = '{"TableName": "users", "Key": {"team_id": "team_1"'
    saved = home("query", "save", "q", "-d", "local", "GetItem", bad)
    ran = home("run", "GetItem", bad, "-d", "local")
    assert saved.code == ran.code == 2
    assert saved.stderr == ran.stderr and "line 1, column" in saved.stderr
    invalid = '{"TableName": "users", "Limit": 0}'
    saved = home("query", "save", "q", "-d", "local", "Scan", invalid)
    ran = home("run", "Scan", invalid, "-d", "local")
    assert saved.code == ran.code == 2 and saved.stderr == ran.stderr and "Limit" in saved.stderr
    assert home("query", "list", "--json").json() == []


def test_read_only_data_source_refuses_and_sends_nothing(home):
    home.add_local("ro", "--read-only")
    assert home("datasource", "show", "ro", "--json").json()["read_only"] is True
    for args in (
        ["DeleteTable", '{"TableName": "users"}'],
        ["PutItem", '{"TableName": "users", "Item": {"team_id": "x", "employee_id": "y"}}'],
        [
            "ExecuteStatement",
            "{\"Statement\": \"DELETE FROM users WHERE team_id = 'team_1' AND employee_id = 'emp_1'\"}",
        ],
    ):
        done = home("run", *args, "--datasource", "ro")
        assert done.code == 2, done.stderr
        assert f"The data source 'ro' is read-only: {args[0]} writes" in done.stderr
    assert (
        home("query", "save", "drop", "-d", "ro", "DeleteTable", '{"TableName": "users"}').code == 0
    )
    done = home("query", "run", "drop")
    assert done.code == 2 and "read-only" in done.stderr
    tables = home("run", "ListTables", "-d", "ro").json()["TableNames"]
    assert "users" in tables
    item = home(
        "run",
        "ExecuteStatement",
        '{"Statement": "SELECT * FROM users WHERE team_id = '
        "'team_1' AND employee_id = 'emp_1'\"}",
        "-d",
        "ro",
    ).json()
    assert item["Items"][0]["name"] == "Aman"
    done = home("datasource", "edit", "ro", "--read-write")
    assert done.code == 0
    assert home("datasource", "show", "ro", "--json").json()["read_only"] is False


def test_history_lists_runs_with_filters(home):
    home("query", "save", "team", "-d", "local", "Query", TEAM_QUERY, "--default", "team=team_1")
    home("query", "run", "team")
    home("query", "run", "team", "-p", "nope=1")
    home("run", "Scan", '{"TableName": "users"}', "-d", "local")
    home(
        "run", "ListTables", "--endpoint-url", home.endpoint.endpoint_url
    )  # no data source: not recorded
    runs = home("history", "--json").json()
    assert [(r["query"], r["operation"], r["outcome"]) for r in runs] == [
        (None, "Scan", "ok"),
        ("team", "Query", "error"),
        ("team", "Query", "ok"),
    ]
    assert runs[2]["item_count"] == 2 and runs[2]["datasource"] == "local"
    assert "Unknown parameter 'nope'" in runs[1]["error"]
    assert len(home("history", "--query", "team", "--outcome", "ok", "--json").json()) == 1
    assert len(home("history", "-n", "1", "--json").json()) == 1
    table = home("history")
    assert table.code == 0 and "Query" in table.stdout and "team" in table.stdout
    done = home("history", "--since", "yesterday")
    assert done.code == 2 and "--since 'yesterday'" in done.stderr


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_export_wipe_import(home, tmp_path, suffix):
    home(
        "query",
        "save",
        "team",
        "-d",
        "local",
        "Query",
        TEAM_QUERY,
        "--transform",
        "Items[].name",
        "--default",
        "team=team_1",
    )
    home(
        "query",
        "save",
        "scan",
        "-d",
        "local",
        "Scan",
        '{"TableName": "users", "Limit": {{ n }}}',
        "--default",
        "n:=2",
    )
    before = home("query", "list", "--json").json()
    path = tmp_path / f"workspace.{suffix}"
    assert home("workspace", "export", "-o", str(path)).code == 0
    assert SECRET not in path.read_text()
    fresh = Home(tmp_path / "fresh")
    done = fresh("workspace", "import", str(path))
    assert done.code == 0, done.stderr
    after = fresh("query", "list", "--json").json()
    strip = lambda qs: [{k: v for k, v in q.items() if not k.endswith(("id", "_at"))} for q in qs]  # noqa: E731
    assert strip(after) == strip(before)
    again = fresh("workspace", "import", str(path))
    assert again.code == 2 and "already exists" in again.stderr
    assert fresh("workspace", "import", str(path), "--skip-existing").code == 0
    # the imported data source has no secret yet; adding it makes the query run
    fresh("datasource", "edit", "local", "--secret-access-key", SECRET)
    done = fresh("query", "run", "team")
    assert done.code == 0 and sorted(done.json()) == ["Aman", "Rahul"]


def test_editing_a_query(home):
    home("query", "save", "q", "-d", "local", "Scan", '{"TableName": "users"}')
    editor = (
        f'{sys.executable} -c "import sys; p = sys.argv[1]; t = open(p).read(); '
        "open(p, 'w').write(t.replace('users', 'locations'))\""
    )
    done = home("query", "edit", "q", env=home.env(EDITOR=editor))
    assert done.code == 0, done.stderr
    assert "locations" in home("query", "show", "q", "--params").stdout
    done = home("query", "edit", "q", '{"TableName": "users", "Limit": "x"}')
    assert done.code == 2 and "Limit" in done.stderr
    assert home("query", "edit", "q", "--rename", "q2", "--transform", "Count").code == 0
    assert home("query", "run", "q2").stdout.strip() == "2"  # the two seeded locations
    assert home("query", "remove", "q2").code == 0
    done = home("query", "show", "q2")
    assert done.code == 2 and "No query named 'q2'" in done.stderr


def test_removing_a_data_source_in_use(home):
    home("query", "save", "q", "-d", "local", "Scan", '{"TableName": "users"}')
    done = home("datasource", "remove", "local")
    assert done.code == 2 and "used by 1 saved query (q)" in done.stderr
    assert home("datasource", "remove", "local", "--with-queries").code == 0
    assert home("datasource", "list", "--json").json() == []


def test_the_secret_appears_nowhere(home):
    """A sentinel secret, then every command: not in any output, the history or the files."""
    home("datasource", "list")
    home("datasource", "list", "--json")
    home("datasource", "show", "local")
    home("datasource", "show", "local", "--json")
    home("datasource", "test", "local", "--json")
    home("datasource", "edit", "local", "--region", "us-east-1", "--json")
    home(
        "query",
        "save",
        "q",
        "-d",
        "local",
        "GetItem",
        '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "{{ e }}"}}',
    )
    home("query", "run", "q", "-p", "e=emp_1", "-o", "full")
    home("query", "run", "q", "-p", "e=emp_1", "-o", "raw")
    home("query", "run", "q")  # an error
    home("run", "DescribeTable", '{"TableName": "nope"}', "-d", "local")  # a service error
    home("query", "list")
    home("query", "show", "q", "--json")
    home("history")
    home("history", "--json")
    home("workspace", "export", "--format", "yaml")
    home("workspace", "export")
    home("workspace", "info", "--json")
    outputs = "\n".join(home.outputs)
    assert "Aman" in outputs and "********" in outputs  # the outputs are really there
    assert SECRET not in outputs
    files = b"".join(p.read_bytes() for p in home.path.iterdir() if p.is_file())
    assert b"DescribeTable" in files and SECRET.encode() not in files
    mode = os.stat(home.path / "workspace.db").st_mode & 0o777
    assert mode == 0o600


def test_database_url_and_home_from_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    h = Home(tmp_path / "home")
    env = h.env(DYNAQUERY_DATABASE_URL=url)
    assert h("datasource", "add", "a", "--region", "us-east-1", env=env).code == 0
    info = h("workspace", "info", "--json", env=env).json()
    assert info["database"] == url and info["datasources"] == 1
    assert (tmp_path / "shared.db").exists() and not (tmp_path / "home" / "workspace.db").exists()
    assert h("datasource", "list", "--json").json() == []  # the home's own workspace is another
    done = h("datasource", "list", env=h.env(DYNAQUERY_DATABASE_URL="nonsense"))
    assert done.code == 2 and "Not a database URL: 'nonsense'" in done.stderr


def test_a_setting_of_the_table_is_a_flag_with_no_code_of_its_own(tmp_path, monkeypatch):
    """role_duration_seconds is a row of settings.SETTINGS and nothing else: `datasource add|edit`,
    `run` and `test` take it as --role-duration-seconds, with its bounds (in process)."""
    from click.testing import CliRunner

    from dynaquery import Workspace
    from dynaquery.cli import cli

    for name in ("DYNAQUERY_DATABASE_URL", "DYNAQUERY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DYNAQUERY_HOME", str(tmp_path))
    runner = CliRunner()
    role = ["--role-arn", "arn:aws:iam::123456789012:role/reader"]
    added = runner.invoke(
        cli, ["datasource", "add", "x", *role, "--role-duration-seconds", "3600", "--json"]
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["role_duration_seconds"] == 3600
    assert Workspace.open().datasource("x").config.role_duration_seconds == 3600
    edited = runner.invoke(cli, ["datasource", "edit", "x", "--role-duration-seconds", "7200"])
    assert edited.exit_code == 0, edited.output
    assert Workspace.open().datasource("x").config.role_duration_seconds == 7200
    for command in (
        ["datasource", "add", "y", *role],
        ["run", "ListTables", *role],
        ["test", *role],
    ):
        refused = runner.invoke(cli, [*command, "--role-duration-seconds", "5"])
        assert refused.exit_code == 2, refused.output
        assert "Invalid value for '--role-duration-seconds'" in refused.output
        assert "900<=x<=43200" in refused.output
    assert [d.name for d in Workspace.open().datasources()] == ["x"]
