"""What a server reads once and reuses (store.py's generation, Workspace._lookup): a saved
query's run reads no data source or query again while nothing changed, and a change made
through another server, or the command line, is seen by the next request. On SQLite and
PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from dynaquery.demo import seed
from dynaquery.server import _digest, create_app
from dynaquery.workspace import Workspace

from support import Endpoint

TOKEN = "generation-token-0123456789"
GET = '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "{{ id }}"}}'


def _server(url, home):
    workspace = Workspace.open(url, home=home)
    client = TestClient(create_app(workspace, _digest(TOKEN)))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return workspace, client


def _statements(workspace: Workspace) -> list[str]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_):
        seen.append(" ".join(statement.split()))

    sa.event.listen(workspace.engine, "before_cursor_execute", record)
    return seen


def test_a_saved_run_reads_only_the_generation_while_nothing_changed(
    database_url, tmp_path, dynamodb_local
):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    workspace, client = _server(database_url, tmp_path)
    workspace.add_datasource("local", **endpoint.settings())
    workspace.save_query("one", "local", "GetItem", GET)
    body = {"values": {"id": "emp_3"}}
    assert client.post("/api/queries/one/run", json=body).status_code == 200
    seen = _statements(workspace)
    answer = client.post("/api/queries/one/run", json=body)
    assert answer.status_code == 200 and answer.json()["data"]["Item"]["employee_id"] == "emp_3"
    reads = [s for s in seen if "FROM queries" in s or "FROM datasources" in s]
    assert reads == [], reads
    assert sum("FROM settings" in s for s in seen) == 1  # the generation, once
    workspace.close()


def test_a_change_through_another_server_is_seen_by_the_next_request(
    database_url, tmp_path, dynamodb_local
):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    first, one = _server(database_url, tmp_path)
    second, two = _server(database_url, tmp_path)
    first.add_datasource("local", **endpoint.settings())
    first.save_query("one", "local", "GetItem", GET)
    body = {"values": {"id": "emp_3"}}
    assert (
        two.post("/api/queries/one/run", json=body).json()["data"]["Item"]["employee_id"] == "emp_3"
    )
    # the query changed through the first server, then the data source's name, then a
    # data source made read-only from the command line's side (a Workspace of its own)
    other = GET.replace("team_1", "team_2").replace("{{ id }}", "emp_2")
    assert one.put("/api/queries/one", json={"params": other}).status_code == 200
    changed = two.post("/api/queries/one/run", json={}).json()
    assert changed["data"]["Item"]["employee_id"] == "emp_2", changed
    assert one.put("/api/datasources/local", json={"name": "renamed"}).status_code == 200
    assert two.get("/api/queries/one").json()["datasource"] == "renamed"
    assert two.get("/api/datasources/local").status_code == 404
    command_line = Workspace.open(database_url, home=tmp_path)
    command_line.update_datasource("renamed", read_only=True)
    put = {"datasource": "renamed", "operation": "PutItem"}
    put["params"] = {"TableName": "users", "Item": {"team_id": "g", "employee_id": "1"}}
    refused = two.post("/api/run", json=put)
    assert refused.status_code == 403 and refused.json()["error"] == "ReadOnlyError"
    for workspace in (first, second, command_line):
        workspace.close()
