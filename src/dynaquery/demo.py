"""The tables the spec's examples use, with a few items, and a demo that runs some examples.

`python -m dynaquery.demo` starts DynamoDB Local on loopback, creates and fills these tables,
and runs a few of the documentation's examples through the `dynaquery` command.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .connection import Connection
from .errors import DemoPortTaken, ServiceError

_PROVISIONED = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}


def _key_table(name: str, hash_key: str, range_key: str, **extra) -> dict:
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": hash_key, "AttributeType": "S"},
            {"AttributeName": range_key, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "ProvisionedThroughput": _PROVISIONED,
        **extra,
    }


# users: as the second document's CreateTable means it (team_id + employee_id, as every other
# example keys it); Reply and Thread: as AWS's own forum example, with the PostedBy-Index.
SPEC_TABLES = [
    _key_table("users", "team_id", "employee_id"),
    _key_table("locations", "name", "address"),
    _key_table("Thread", "ForumName", "Subject"),
    {
        **_key_table("Reply", "Id", "ReplyDateTime"),
        "AttributeDefinitions": [
            {"AttributeName": "Id", "AttributeType": "S"},
            {"AttributeName": "ReplyDateTime", "AttributeType": "S"},
            {"AttributeName": "PostedBy", "AttributeType": "S"},
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "PostedBy-Index",
                "KeySchema": [
                    {"AttributeName": "Id", "KeyType": "HASH"},
                    {"AttributeName": "PostedBy", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    },
]

THREAD_1 = "Amazon DynamoDB#DynamoDB Thread 1"

SPEC_ITEMS = {
    "users": [
        {"team_id": "team_1", "employee_id": "emp_1", "name": "Aman", "level": 3},
        {"team_id": "team_1", "employee_id": "emp_3", "name": "Rahul", "level": 2},
        {"team_id": "team_2", "employee_id": "emp_2", "name": "Anneke", "level": 4},
        {"team_id": "team_2", "employee_id": "emp_5", "name": "Bo", "level": 1},
        {"team_id": "team_3", "employee_id": "emp_4", "name": "Anneke", "level": 2},
    ],
    "locations": [
        {"name": "Main Office", "address": "123 Maple St.", "city": "Springfield"},
        {"name": "Warehouse", "address": "9 Dock Rd.", "city": "Shelbyville"},
    ],
    "Thread": [
        {
            "ForumName": "Amazon DynamoDB",
            "Subject": "How do I update multiple items?",
            "Views": 0,
            "Tags": {"SS": ["update", "multiple items"]},
        },
        {"ForumName": "Amazon DynamoDB", "Subject": "DynamoDB Thread 1", "Views": 12, "Replies": 4},
    ],
    "Reply": [
        {
            "Id": THREAD_1,
            "ReplyDateTime": "2015-09-15T19:58:22.947Z",
            "PostedBy": "User A",
            "Message": "DynamoDB Thread 1 Reply 1 text",
        },
        {
            "Id": THREAD_1,
            "ReplyDateTime": "2015-09-22T19:58:22.947Z",
            "PostedBy": "User B",
            "Message": "DynamoDB Thread 1 Reply 2 text",
        },
        {
            "Id": THREAD_1,
            "ReplyDateTime": "2015-09-29T19:58:22.947Z",
            "PostedBy": "User C",
            "Message": "DynamoDB Thread 1 Reply 3 text",
        },
        {
            "Id": THREAD_1,
            "ReplyDateTime": "2015-10-06T19:58:22.947Z",
            "PostedBy": "User D",
            "Message": "DynamoDB Thread 1 Reply 4 text",
        },
    ],
}


def seed(
    connection: Connection, tables: list[str] | None = None, only_new: bool = False
) -> list[str]:
    """Create the spec's tables (those not there yet) and put their items. Returns the tables.
    `only_new`: fill only the tables created now, leaving the items of existing ones as they are."""
    wanted = [t for t in SPEC_TABLES if tables is None or t["TableName"] in tables]
    created = []
    for table in wanted:
        try:
            connection.run("CreateTable", table)
            created.append(table)
        except ServiceError as error:
            if error.code != "ResourceInUseException":
                raise
    for table in wanted:
        connection.client.get_waiter("table_exists").wait(
            TableName=table["TableName"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
    writes = {
        t["TableName"]: [{"PutRequest": {"Item": item}} for item in SPEC_ITEMS[t["TableName"]]]
        for t in (created if only_new else wanted)
    }
    if writes:
        result = connection.run("BatchWriteItem", {"RequestItems": writes})
        if not result.complete:
            raise RuntimeError("some demo items could not be written")
    return [t["TableName"] for t in wanted]


@dataclass(frozen=True)
class DemoRun:
    """One command of the demo: what it shows, its arguments, and whether it must succeed."""

    title: str
    args: list[str]
    succeeds: bool = True
    refusal: str = ""  # for one that must fail: what its error must say


DEMO_RUNS = [
    DemoRun("The tables", ["run", "ListTables"]),
    DemoRun(
        "An item, by its key written with plain values",
        [
            "run",
            "GetItem",
            '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "emp_1"}}',
        ],
    ),
    DemoRun(
        "The documentation's Query Table, on an index, with the whole result",
        [
            "run",
            "query_table",
            """{
    "TableName": "Reply",
    "IndexName": "PostedBy-Index",
    "Limit": 3,
    "ConsistentRead": true,
    "ProjectionExpression": "Id, PostedBy, ReplyDateTime",
    "KeyConditionExpression": "Id = :v1 AND PostedBy BETWEEN :v2a AND :v2b",
    "ExpressionAttributeValues": {
        ":v1": {"S": "Amazon DynamoDB#DynamoDB Thread 1"},
        ":v2a": {"S": "User A"},
        ":v2b": {"S": "User C"}
    },
    "ReturnConsumedCapacity": "TOTAL"
}""",
            "--output",
            "full",
        ],
    ),
    DemoRun(
        "A Scan with a comment in its JSON, as a table",
        [
            "run",
            "Scan",
            """{
    "TableName": "users",
    "FilterExpression": "#n = :val",
    "ExpressionAttributeNames": { // "name" is a reserved keyword, so this key sets an alias
        "#n": "name"
    },
    "ExpressionAttributeValues": {":val": {"S": "Anneke"}}
}""",
            "--output",
            "table",
        ],
    ),
    DemoRun(
        "The documentation's UpdateItem, which is wrong ('name' is a reserved word): "
        "refused, with the fix",
        [
            "run",
            "UpdateItem",
            """{
    "TableName" : "users",
    "Key" : {"team_id" : {"S" : "team_1"}, "employee_id" : {"S" : "emp_1"}},
    "UpdateExpression" : "set name = Amal"
}""",
        ],
        succeeds=False,
        refusal="write #name instead",
    ),
]


def run_examples(flags: list[str], runs: list[DemoRun] = DEMO_RUNS) -> int:
    """Run each demo command for real through `dynaquery`, with `flags` to reach the engine.
    0 when each succeeded or was refused as it should be, else 1."""
    unexpected = []
    for run in runs:
        print(f"# {run.title}{'' if run.succeeds else ' (expected to fail)'}", flush=True)
        print("$ dynaquery " + " ".join(shlex.quote(a) for a in run.args), flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "dynaquery", *run.args, *flags],
            stderr=subprocess.PIPE,
            text=True,
        )
        sys.stderr.write(done.stderr)
        sys.stderr.flush()
        code = done.returncode
        if run.succeeds and code == 0:
            print("(exit 0)\n", flush=True)
        elif not run.succeeds and code in (1, 2) and run.refusal in done.stderr:
            print(f"(exit {code}: refused, as expected)\n", flush=True)
        else:
            print(f"(exit {code}: NOT what this example should do)\n", flush=True)
            unexpected.append(run.title)
    if unexpected:
        print("The demo went wrong at: " + "; ".join(unexpected), file=sys.stderr, flush=True)
        return 1
    refused = sum(not run.succeeds for run in runs)
    print(
        f"Demo done: {len(runs) - refused} examples ran, {refused} refused as expected.", flush=True
    )
    return 0


DEMO_DATASOURCE = "demo"
DEMO_KEYS = {"region": "us-east-1", "access_key_id": "demo", "secret_access_key": "demo"}
# The demo engine's port on its first start (the next free one if taken), then remembered in the
# workspace directory: saved data sources keep pointing at a live engine across restarts.
DEMO_PORT = 8001
ENGINE_STATE = "engine.json"


@dataclass
class DemoEngine:
    """The demo's local DynamoDB. `data_dir` is where its data is kept (None: in memory only);
    `reused` when it was already running, and so is left running by stop()."""

    endpoint_url: str
    data_dir: Path | None = None
    reused: bool = False
    server: Any = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def demo_dir(home: Path) -> Path:
    """Where the demo engine keeps its data and its port: `demo/` in the workspace directory."""
    return Path(home) / "demo"


def start_engine(home: Path | None = None, echo=print, port: int | None = None) -> DemoEngine:
    """The demo's local DynamoDB, on the same address and with the same data at every start.

    DynamoDB Local (when Java and its jar are at hand) keeps its data in `<home>/demo/dynamodb`
    and runs with one database for every access key; its port (`port`, by default DEMO_PORT, the
    first time, or a free one if taken) is remembered in `<home>/demo/engine.json`. An engine of
    this workspace still answering there is reused. Without Java, moto's server runs in this
    process, on the same port, and keeps nothing."""
    from . import store
    from .local import LocalEngineUnavailable, start_dynamodb_local, start_moto_in_process

    state_dir = demo_dir(Path(home) if home is not None else store.default_home())
    state_file, data_dir = state_dir / ENGINE_STATE, state_dir / "dynamodb"
    state = _read_state(state_file)
    remembered = state.get("port")
    if remembered is None:
        port = port or DEMO_PORT
        chosen = port if _probe(port) == "free" else _free_port()
    else:
        chosen = remembered
        found = _probe(chosen)
        if found == "dynamodb" and _is_ours(state.get("pid"), data_dir):
            echo(f"dynaquery: reusing the demo engine still running at {_url(chosen)}.")
            return DemoEngine(_url(chosen), data_dir, reused=True)
        if found != "free":
            what = (
                "another DynamoDB engine, not this workspace's demo engine"
                if found == "dynamodb"
                else "another program"
            )
            raise DemoPortTaken(
                f"The demo engine's port {chosen} (remembered in {state_file}) is taken by {what}. "
                f"Stop it and start again, or delete {state_file} to give the demo a new port "
                f"(the data source '{DEMO_DATASOURCE}' follows it)."
            )
    try:
        server = start_dynamodb_local(chosen, db_path=data_dir, shared_db=True)
    except (LocalEngineUnavailable, OSError, RuntimeError) as error:
        echo(
            f"dynaquery: DynamoDB Local is not available ({error}); using moto's engine in this "
            f"process instead. It keeps nothing: the demo's tables and items are lost when it "
            f"stops (install Java 17 to keep them)."
        )
        server = start_moto_in_process(chosen)
        _write_state(state_file, {"port": chosen})
        return DemoEngine(server.endpoint_url, None, server=server)
    _write_state(state_file, {"port": chosen, "pid": server.process.pid})
    return DemoEngine(server.endpoint_url, data_dir, server=server)


def _url(port: int) -> str:
    from .local import LOOPBACK

    return f"http://{LOOPBACK}:{port}"


def _free_port() -> int:
    from .local import free_port

    return free_port()


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable: choose afresh (the data stays where it is)
    port = state.get("port") if isinstance(state, dict) else None
    if not isinstance(port, int) or not 0 < port < 65536:
        return {}
    return state


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(temp, path)


def _probe(port: int) -> str:
    """What holds `port` on loopback: "free", "dynamodb" (answers ListTables) or "other"."""
    import botocore.session
    from botocore.config import Config

    from .local import LOOPBACK

    try:
        socket.create_connection((LOOPBACK, port), timeout=2).close()
    except ConnectionRefusedError:
        # Nothing on loopback; DynamoDB Local binds every interface, so check those too.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("", port))
            except OSError:
                return "other"
        return "free"
    except OSError:
        return "other"
    client = botocore.session.get_session().create_client(
        "dynamodb",
        endpoint_url=_url(port),
        **{
            "region_name": DEMO_KEYS["region"],
            "aws_access_key_id": DEMO_KEYS["access_key_id"],
            "aws_secret_access_key": DEMO_KEYS["secret_access_key"],
        },
        config=Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1}),
    )
    try:
        client.list_tables(Limit=1)
        return "dynamodb"
    except Exception:
        return "other"
    finally:
        client.close()


def _is_ours(pid: Any, data_dir: Path) -> bool:
    """Is process `pid` a DynamoDB Local keeping its data in `data_dir`?"""
    if not isinstance(pid, int) or pid <= 0:
        return False
    proc = Path("/proc")
    if proc.is_dir():
        try:
            args = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return os.fsencode(str(data_dir.resolve())) in args
    try:  # no /proc: the process the workspace started is still alive
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def register(workspace, endpoint_url: str):
    """Seed the engine at `endpoint_url` with the spec's tables and save it as the data source
    `demo` (updated in place if the workspace has one). Tables already there keep their items."""
    from .errors import NotFound

    settings = {"endpoint_url": endpoint_url, **DEMO_KEYS}
    seed(Connection(**settings), only_new=True)
    try:
        workspace.datasource(DEMO_DATASOURCE)
    except NotFound:
        return workspace.add_datasource(
            DEMO_DATASOURCE,
            description="the local demo engine, with the tables of the documentation's examples",
            **settings,
        )
    return workspace.update_datasource(DEMO_DATASOURCE, read_only=False, **settings)


def main() -> int:
    from .local import start_dynamodb_local

    print("Starting DynamoDB Local on loopback...", flush=True)
    with start_dynamodb_local() as server:
        settings = {
            "endpoint_url": server.endpoint_url,
            "region": "us-east-1",
            "access_key_id": "demo",
            "secret_access_key": "demo",
        }
        seed(Connection(**settings))
        print(
            f"DynamoDB Local at {server.endpoint_url}; tables: "
            f"{', '.join(t['TableName'] for t in SPEC_TABLES)}\n",
            flush=True,
        )
        flags = [
            "--endpoint-url",
            server.endpoint_url,
            "--region",
            "us-east-1",
            "--access-key-id",
            "demo",
            "--secret-access-key",
            "demo",
        ]
        return run_examples(flags)


if __name__ == "__main__":
    sys.exit(main())
