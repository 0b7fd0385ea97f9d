"""The workspace under concurrent writers, on SQLite and on a real PostgreSQL (the
`database_url` fixture runs each test on both): a name taken by several at once, edits of
different fields at once, the first use of a fresh database by many, text the database cannot
hold, and a history that cannot be written.

Each writer is a Workspace of its own (its own engine and connections), as separate processes
or servers are; threads start them together with a barrier.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from dynaquery import store
from dynaquery.errors import Conflict, DynaqueryError, InputError, NotFound
from dynaquery.workspace import Workspace

from support import Endpoint, all_at_once

WRITERS = 8
SETTINGS = {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"}


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNAQUERY_DATABASE_URL", raising=False)


def workspaces(url: str, home, count: int) -> list[Workspace]:
    return [Workspace.open(url, home=home) for _ in range(count)]


def close(opened: list[Workspace]) -> None:
    for workspace in opened:
        workspace.close()


def test_one_name_taken_by_many_writers_at_once(database_url, tmp_path):
    opened = workspaces(database_url, tmp_path, WRITERS)
    try:
        for round_ in range(5):
            name = f"same-{round_}"
            outcomes = all_at_once(
                WRITERS,
                lambda i, name=name: opened[i].add_datasource(name, **SETTINGS, description=str(i)),
            )
            added = [o for o in outcomes if not isinstance(o, Exception)]
            refused = [o for o in outcomes if isinstance(o, Exception)]
            assert len(added) == 1, outcomes
            assert all(isinstance(e, Conflict) for e in refused), refused
            assert all("already exists" in str(e) for e in refused)
        assert [d.name for d in opened[0].datasources()] == [f"same-{r}" for r in range(5)]
    finally:
        close(opened)


def test_one_query_name_saved_by_many_at_once(database_url, tmp_path):
    opened = workspaces(database_url, tmp_path, WRITERS)
    try:
        opened[0].add_datasource("local", **SETTINGS)
        outcomes = all_at_once(
            WRITERS,
            lambda i: opened[i].save_query("q", "local", "ListTables", f'{{"Limit": {i + 1}}}'),
        )
        assert sum(not isinstance(o, Exception) for o in outcomes) == 1, outcomes
        assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, Exception))
        assert len(opened[0].queries()) == 1
    finally:
        close(opened)


def test_edits_of_different_fields_at_once_are_all_kept(database_url, tmp_path):
    opened = workspaces(database_url, tmp_path, 2)
    try:
        opened[0].add_datasource("ds", **SETTINGS)
        for round_ in range(10):
            changes = [{"description": f"round {round_}"}, {"region": f"eu-west-{round_ % 3 + 1}"}]
            outcomes = all_at_once(
                2, lambda i, c=changes: opened[i].update_datasource("ds", **c[i])
            )
            assert not any(isinstance(o, Exception) for o in outcomes), outcomes
            kept = opened[0].datasource("ds")
            assert kept.description == f"round {round_}"
            assert kept.config.region == f"eu-west-{round_ % 3 + 1}"
    finally:
        close(opened)


def test_the_first_use_of_a_fresh_database_by_many_loses_nothing(database_url, tmp_path):
    def first_use(i):
        with Workspace.open(database_url, home=tmp_path) as workspace:
            workspace.add_datasource(
                f"ds-{i}", **SETTINGS, access_key_id="AKIAFIRSTUSE", secret_access_key=f"secret-{i}"
            )

    outcomes = all_at_once(WRITERS, first_use)
    assert outcomes == [None] * WRITERS
    with Workspace.open(database_url, home=tmp_path) as workspace:
        assert sorted(d.name for d in workspace.datasources()) == sorted(
            f"ds-{i}" for i in range(WRITERS)
        )
        assert workspace.connection_config("ds-3").secret_access_key == "secret-3"


@pytest.mark.parametrize(
    "action",
    [
        lambda ws: ws.add_datasource("a\x00b", **SETTINGS),
        lambda ws: ws.add_datasource("ok", **SETTINGS, description="a\x00b"),
        lambda ws: ws.save_query("q", "local", "ListTables", "{} // a\x00b"),
        lambda ws: ws.datasource("local\x00"),
        lambda ws: ws.history(datasource="local\x00"),
    ],
    ids=["name", "description", "comment", "lookup", "history-filter"],
)
def test_the_nul_character_is_refused_naming_the_field(database_url, tmp_path, action):
    with Workspace.open(database_url, home=tmp_path) as workspace:
        workspace.add_datasource("local", **SETTINGS)
        with pytest.raises(InputError) as refused:
            action(workspace)
        assert not isinstance(refused.value, Conflict)
        message = str(refused.value)
        assert "NUL" in message or "No data source" in message or "Invalid" in message
        assert [d.name for d in workspace.datasources()] == ["local"]


def test_a_long_operation_name_is_an_unknown_operation_and_is_kept_in_the_history(
    database_url, tmp_path
):
    with Workspace.open(database_url, home=tmp_path) as workspace:
        workspace.add_datasource("local", **SETTINGS)
        with pytest.raises(DynaqueryError) as refused:
            workspace.run("local", "X" * 101, "{}")
        assert "X" * 20 in str(refused.value)
        (run,) = workspace.history()
        assert run.outcome == "error" and len(run.operation) <= 100


def test_a_history_that_cannot_be_written_does_not_fail_the_call(
    postgres, dynamodb_local, tmp_path
):
    """A role that may read the workspace and change data sources, but not insert runs: the call
    to DynamoDB succeeds and says its history is missing."""
    url, role = postgres.new_database(), "dq_reader_" + uuid.uuid4().hex[:8]
    with Workspace.open(url, home=tmp_path) as workspace:
        workspace.add_datasource("local", **Endpoint(dynamodb_local.endpoint_url).settings())
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        db.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    admin.dispose()
    reader_url = str(sa.engine.make_url(url).set(username=role))
    with Workspace.open(reader_url, home=tmp_path) as workspace:
        result = workspace.run("local", "ListTables", "{}")
        assert "TableNames" in result.data
        assert result.meta["history"].startswith("not recorded: ")
        assert "permission denied" in result.meta["history"]
        assert workspace.history() == []


def test_a_role_that_cannot_create_the_tables_gets_a_clear_error(postgres, tmp_path):
    url, role = postgres.new_database(), "dq_nocreate_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        db.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    admin.dispose()
    with pytest.raises(DynaqueryError) as refused:
        Workspace.open(str(sa.engine.make_url(url).set(username=role)), home=tmp_path)
    assert "permission denied" in str(refused.value)
    assert "GRANT" in str(refused.value)


def test_an_unreachable_database_host_fails_quickly_and_clearly(tmp_path):
    with pytest.raises(DynaqueryError) as refused:
        Workspace.open("postgresql+psycopg://u:hidden-pw@127.0.0.1:9/db", home=tmp_path)
    assert "127.0.0.1:9" in str(refused.value)
    assert "hidden-pw" not in str(refused.value)


def test_the_driver_hint_names_the_urls_driver(tmp_path):
    with pytest.raises(DynaqueryError) as refused:
        store.create_engine("postgresql+pg8000://u@127.0.0.1/db")
    assert "pg8000" in str(refused.value)


def test_run_ids_and_counts_hold_8_bytes_on_every_database(database_url, tmp_path):
    with Workspace.open(database_url, home=tmp_path) as workspace:
        with store.transaction(workspace.engine, write=True) as db:
            db.execute(
                store.runs.insert().values(
                    id=2**40,
                    started_at="2026-01-01T00:00:00Z",
                    operation="Scan",
                    outcome="ok",
                    item_count=2**40,
                )
            )
        (run,) = workspace.history()
        assert run.item_count == 2**40


def test_not_found_still_names_the_data_source(database_url, tmp_path):
    with Workspace.open(database_url, home=tmp_path) as workspace:
        with pytest.raises(NotFound):
            workspace.datasource("nowhere")


# -- through the API: two servers on one database ------------------------------------------------


def two_servers(url: str, home) -> list:
    from fastapi.testclient import TestClient

    from dynaquery.server import _digest, create_app

    clients = []
    for _ in range(2):
        client = TestClient(create_app(Workspace.open(url, home=home), _digest("race-token")))
        client.headers["Authorization"] = "Bearer race-token"
        clients.append(client)
    return clients


def test_two_servers_saving_one_name_at_once_answer_one_201_and_409s(database_url, tmp_path):
    clients = two_servers(database_url, tmp_path)
    body = {"name": "shared", **SETTINGS}
    answers = all_at_once(WRITERS, lambda i: clients[i % 2].post("/api/datasources", json=body))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (WRITERS - 1), [a.text for a in answers]
    source = clients[0].get("/api/datasources").json()[0]["id"]
    query = {"name": "q", "datasource": source, "operation": "ListTables", "params": "{}"}
    answers = all_at_once(WRITERS, lambda i: clients[i % 2].post("/api/queries", json=query))
    assert sorted(a.status_code for a in answers) == [201] + [409] * (WRITERS - 1)


def test_text_the_database_cannot_hold_is_a_400_not_a_500(database_url, tmp_path):
    (client, _) = two_servers(database_url, tmp_path)
    assert client.get("/api/datasources/a%00").status_code in (400, 404)
    answer = client.post("/api/datasources", json={"name": "a", "description": "x\x00", **SETTINGS})
    assert answer.status_code == 400 and "NUL" in answer.json()["message"]
    answer = client.post(
        "/api/run", json={"datasource": "a", "operation": "X" * 101, "params": "{}"}
    )
    assert answer.status_code in (400, 404), answer.text


def test_command_processes_adding_one_name_at_once(database_url, tmp_path):
    """Separate processes, as a team's shells are: one adds, the others exit with the conflict's
    code and its message, never a database error or its SQL."""
    import subprocess
    import sys

    from dynaquery.errors import Conflict as ConflictError

    from support import clean_env

    env = clean_env(DYNAQUERY_HOME=str(tmp_path), DYNAQUERY_DATABASE_URL=database_url)
    Workspace.open(database_url, home=tmp_path).close()  # migrated once: the race is the name
    command = [sys.executable, "-m", "dynaquery", "datasource", "add", "same"]
    command += ["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    ended = [(p.wait(120), p.stderr.read()) for p in processes]
    codes = sorted(code for code, _ in ended)
    assert codes == [0] + [ConflictError.exit_code] * 3, ended
    for code, stderr in ended:
        assert "IntegrityError" not in stderr and "INSERT" not in stderr
        assert code == 0 or "already exists" in stderr


def test_two_servers_share_download_links_and_the_sign_in_limit(database_url, tmp_path):
    first, second = two_servers(database_url, tmp_path)
    # a link made by one server is taken, once, by the other
    tickets = [first.app.state.download_links.new({"name": f"t{i}"}) for i in range(3)]
    assert second.app.state.download_links.take(tickets[1]) == {"name": "t1"}
    assert first.app.state.download_links.take(tickets[1]) is None  # used
    assert first.app.state.download_links.take(tickets[0]) == {"name": "t0"}
    # wrong tokens sent to one server count on the other
    for client in (first, second):
        client.app.state.sign_ins.refresh = 0
        client.app.state.sign_ins.failures = 4
    wrong = {"Authorization": "Bearer wrong"}
    assert [first.get("/api/session", headers=wrong).status_code for _ in range(4)] == [401] * 4
    blocked = second.get("/api/session")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    # the digests only: no ticket is in the database
    with store.transaction(first.app.state.workspace.engine) as db:
        kept = db.execute(sa.select(store.download_links.c.digest)).scalars().all()
    assert tickets[2] not in kept and len(kept) == 1


def test_serve_with_two_workers_acts_as_one_server(dynamodb_local, tmp_path):
    """`serve --workers 2`: every download link works whichever worker takes it, and wrong tokens
    sent to one worker count on the other (each reads the others' once a second)."""
    import json
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from dynaquery.demo import seed
    from dynaquery.local import free_port

    from support import clean_env

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    port, token = free_port(), "workers-" + uuid.uuid4().hex
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None, token=token):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    server = subprocess.Popen(
        [sys.executable, "-m", "dynaquery", "serve", "--port", str(port), "--workers", "2"],
        env=clean_env(DYNAQUERY_HOME=str(tmp_path), DYNAQUERY_TOKEN=token),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                if call("GET", "/api/session")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve --workers 2 did not answer"
                time.sleep(0.2)
        assert call("POST", "/api/datasources", {"name": "local", **endpoint.settings()})[0] == 201
        for _ in range(8):
            status, link = call("POST", "/api/tables/users/export/link?datasource=local")
            assert status == 200
            status, exported = call("GET", json.loads(link)["url"], token=None)
            assert status == 200 and len(exported.splitlines()) == 5
        statuses = [call("GET", "/api/session", token="wrong")[0] for _ in range(10)]
        assert statuses == [401] * 10
        time.sleep(1.2)  # each worker has read the others' failures by now
        assert {call("GET", "/api/session")[0] for _ in range(6)} == {429}
    finally:
        server.terminate()
        server.wait(30)
