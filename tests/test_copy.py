"""`dynaquery copy` between two data sources on DynamoDB Local: every item arrives exactly (typed:
sets, binary, 38-digit numbers); a copy killed with SIGKILL goes on with --resume with no item
missing and none written twice; --create makes the target like the source; the modes.

DynamoDB Local (without -sharedDb, as the tests start it) keeps one database per access key and
region: two data sources with different access keys on the same endpoint are two separate worlds,
so a table of the same name in each is two tables.

"None written twice" is checked from outside the copy: the target data source reaches DynamoDB
Local through `CountingProxy`, which records the key of every item each accepted write put
(BatchWriteItem's items less those it answered unprocessed, PutItem's item). After the killed
copy and its resume, every key has been put exactly once.
"""

from __future__ import annotations

import gzip
import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import Endpoint, clean_env, dynaquery, pk_sk_table

ITEMS = 20_000


def rich_item(i: int) -> dict:
    """Typed, with every kind of value: sets, binary, 38-digit numbers, nesting."""
    return {
        "pk": {"S": f"p{i % 17}"},
        "sk": {"N": str(i)},
        "big": {"N": "1234567890123456789012345678901234567" + str(i % 10)},
        "small": {"N": f"-0.{i:05d}000000000000000000000000000001"},
        "text": {"S": f'ünïcödé "q" {i}'},
        "blob": {"B": bytes([i % 256, 0, 255])},
        "ss": {"SS": [f"a{i}", "b"]},
        "ns": {"NS": ["1", "2.5", str(10**37 + i)]},
        "bs": {"BS": [b"\x00", bytes([i % 255 + 1])]},
        "map": {"M": {"deep": {"L": [{"M": {"n": {"N": "0.1"}}}, {"B": b"\x01\x02"}]}}},
        "flag": {"BOOL": i % 2 == 0},
        "none": {"NULL": True},
    }


def put_items(conn, table: str, items: list[dict]) -> None:
    """botocore's own BatchWriteItem, eight at a time (the setup does not use the copy's code)."""

    def send(start: int) -> None:
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        pending = {table: batch}
        while pending:
            pending = conn.client.batch_write_item(RequestItems=pending)["UnprocessedItems"]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, len(items), 25)))


def _sorted_sets(av: dict) -> dict:
    ((tag, value),) = av.items()
    if tag in ("SS", "NS", "BS"):
        return {tag: sorted(value)}
    if tag == "M":
        return {"M": {k: _sorted_sets(v) for k, v in value.items()}}
    if tag == "L":
        return {"L": [_sorted_sets(v) for v in value]}
    return av


def all_items(conn, table: str) -> dict:
    """Every item, typed as botocore parses it (sets sorted: their order is DynamoDB's), by key."""
    found = {}
    pages = conn.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    for page in pages:
        for item in page["Items"]:
            found[(item["pk"]["S"], item["sk"]["N"])] = {
                k: _sorted_sets(v) for k, v in item.items()
            }
    return found


class Home:
    """A workspace with data sources, and the command pointed at it."""

    def __init__(self, path: Path, endpoint_url: str):
        self.path, self.endpoint_url = path, endpoint_url
        self.endpoints: dict[str, Endpoint] = {}

    def env(self) -> dict:
        return clean_env(DYNAQUERY_HOME=str(self.path))

    def add(self, name: str, via: str | None = None) -> Endpoint:
        """A data source of its own access key (its own world); `via` an endpoint in front."""
        endpoint = Endpoint(self.endpoint_url)
        done = self(
            "datasource",
            "add",
            name,
            "--endpoint-url",
            via or endpoint.endpoint_url,
            "--region",
            endpoint.region,
            "--access-key-id",
            endpoint.access_key,
            "--secret-access-key",
            endpoint.secret_key,
        )
        assert done.code == 0, done.stderr
        self.endpoints[name] = endpoint
        return endpoint

    def __call__(self, *args: str):
        return dynaquery(*args, env=self.env(), timeout=600)


@pytest.fixture(scope="module")
def source(dynamodb_local, tmp_path_factory):
    """A world holding a table of ITEMS rich items."""
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    table = "copy_src_" + uuid.uuid4().hex[:8]
    conn.run("CreateTable", pk_sk_table(table))
    put_items(conn, table, [rich_item(i) for i in range(ITEMS)])
    return endpoint, table, all_items(conn, table)


@pytest.fixture
def home(tmp_path, dynamodb_local, source, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a copy keeps its checkpoint by default
    home = Home(tmp_path / "home", dynamodb_local.endpoint_url)
    endpoint, _table, _items = source
    home.add("dst")
    done = home(
        "datasource",
        "add",
        "src",
        "--endpoint-url",
        endpoint.endpoint_url,
        "--region",
        endpoint.region,
        "--access-key-id",
        endpoint.access_key,
        "--secret-access-key",
        endpoint.secret_key,
    )
    assert done.code == 0, done.stderr
    home.endpoints["src"] = endpoint
    return home


def test_a_copy_between_two_data_sources_is_exact(home, source, tmp_path):
    _endpoint, table, items = source
    target = home.endpoints["dst"].connection()
    started = time.perf_counter()
    done = home(
        "copy", f"src:{table}", f"dst:{table}", "--create", "--checkpoint", str(tmp_path / "c")
    )
    elapsed = time.perf_counter() - started
    assert done.code == 0, done.stderr
    assert f"Created the target table. {ITEMS:,} written, 0 failed." in done.stderr
    assert all_items(target, table) == items  # every item, every value, exactly
    assert not (tmp_path / "c").exists()  # a finished copy removes its checkpoint
    print(f"copy of {ITEMS} items: {elapsed:.1f}s ({ITEMS / elapsed:,.0f} items/s)")


# -- killed, then resumed


class CountingProxy:
    """An HTTP proxy in front of DynamoDB Local that counts, by key, the items each accepted
    write put (see the module's docstring)."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.puts: Counter = Counter()
        self.lock = threading.Lock()
        self.active = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                proxy.relay(self)

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the killed copy's connections, cut midway

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def relay(self, handler) -> None:
        with self.lock:
            self.active += 1
        try:
            body = handler.rfile.read(int(handler.headers["Content-Length"]))
            upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port)
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "connection"}
            upstream.request("POST", "/", body, headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.count(handler.headers.get("X-Amz-Target", ""), body, answer, data)
            handler.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "transfer-encoding"):
                    handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        finally:
            with self.lock:
                self.active -= 1

    def count(self, target: str, body: bytes, answer, data: bytes) -> None:
        if answer.status != 200:
            return
        if answer.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        request = json.loads(body)
        if target.endswith(".BatchWriteItem"):
            sent = [r["PutRequest"]["Item"] for rs in request["RequestItems"].values() for r in rs]
            left = json.loads(data).get("UnprocessedItems") or {}
            unprocessed = Counter(_key(r["PutRequest"]["Item"]) for rs in left.values() for r in rs)
            landed = Counter(_key(item) for item in sent) - unprocessed
        elif target.endswith(".PutItem"):
            landed = Counter([_key(request["Item"])])
        else:
            return
        with self.lock:
            self.puts.update(landed)

    def idle(self, timeout: float = 30) -> None:
        """Once every request it holds is answered (twice over a pause: a request the killed
        process had sent may still be waiting to be accepted)."""
        for _ in range(2):
            deadline = time.monotonic() + timeout
            while self.active and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not self.active
            time.sleep(0.5)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _key(item: dict) -> tuple:
    return item["pk"]["S"], item["sk"]["N"]


def _checkpoint(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def test_a_killed_copy_resumes_with_no_item_missing_and_none_written_twice(home, source, tmp_path):
    _endpoint, table, items = source
    proxy = CountingProxy(home.endpoint_url)
    try:
        target = home.add("dst_proxied", via=proxy.endpoint_url).connection()
        target.run("CreateTable", pk_sk_table(table))
        checkpoint = tmp_path / "copy.checkpoint"
        args = ["copy", f"src:{table}", f"dst_proxied:{table}", "--checkpoint", str(checkpoint)]
        args += ["--page-size", "250"]
        process = subprocess.Popen(
            [sys.executable, "-m", "dynaquery", *args],
            env=home.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        saved = _wait_for_progress(process, checkpoint)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        proxy.idle()
        saved = _checkpoint(checkpoint)  # the last one the killed copy saved
        written_before = sum(proxy.puts.values())
        assert 0 < saved["counts"]["written"] <= written_before < ITEMS

        done = home(*args, "--resume")
        assert done.code == 0, done.stderr
        assert len(proxy.puts) == ITEMS  # no item missing...
        assert [key for key, puts in proxy.puts.items() if puts > 1] == []  # ...none twice
        found = re.search(
            r"([\d,]+) written \(([\d,]+) of them by the interrupted copy", done.stderr
        )
        assert found, done.stderr
        total, confirmed = (int(g.replace(",", "")) for g in found.groups())
        assert total == ITEMS
        # Written by the killed copy after its last checkpoint: found in the target, not resent.
        assert confirmed == written_before - saved["counts"]["written"]
        assert all_items(target, table) == items
        assert not checkpoint.exists()
        print(
            f"killed after {written_before} items put ({saved['counts']['written']} in the "
            f"checkpoint); the resume found {confirmed} already there"
        )
    finally:
        proxy.stop()


def _wait_for_progress(process: subprocess.Popen, checkpoint: Path) -> dict:
    """The checkpoint once it has settled some items (the copy still running)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        saved = _checkpoint(checkpoint)
        if saved and saved["counts"]["written"] >= 2000:
            return saved
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.01)
    raise AssertionError("the copy saved no progress in 120 s")


# -- --create


def describe(conn, table: str) -> dict:
    return conn.call("DescribeTable", {"TableName": table})["Table"]


def indexed_table(name: str, provisioned: bool) -> dict:
    throughput = {"ReadCapacityUnits": 7, "WriteCapacityUnits": 3}
    gsi = {
        "IndexName": "by_email",
        "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["name", "age"]},
    }
    params = {
        **pk_sk_table(name),
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "email", "AttributeType": "S"},
            {"AttributeName": "day", "AttributeType": "B"},
        ],
        "GlobalSecondaryIndexes": [
            {**gsi, "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 2}}
            if provisioned
            else gsi
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "by_day",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "day", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }
    if provisioned:
        params["BillingMode"] = "PROVISIONED"
        params["ProvisionedThroughput"] = throughput
    return params


def _shape(found: dict) -> dict:
    """What --create copies, as DescribeTable shows it."""

    def index(entry: dict) -> dict:
        shape = {k: entry[k] for k in ("IndexName", "KeySchema")}
        shape["Projection"] = {**entry["Projection"]}
        if "NonKeyAttributes" in shape["Projection"]:
            shape["Projection"]["NonKeyAttributes"] = sorted(
                shape["Projection"]["NonKeyAttributes"]
            )
        throughput = entry.get("ProvisionedThroughput") or {}
        shape["throughput"] = (
            throughput.get("ReadCapacityUnits"),
            throughput.get("WriteCapacityUnits"),
        )
        return shape

    throughput = found.get("ProvisionedThroughput") or {}
    return {
        "KeySchema": found["KeySchema"],
        "AttributeDefinitions": sorted(
            found["AttributeDefinitions"], key=lambda d: d["AttributeName"]
        ),
        "billing": (found.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "throughput": (throughput.get("ReadCapacityUnits"), throughput.get("WriteCapacityUnits")),
        "GlobalSecondaryIndexes": [index(i) for i in found.get("GlobalSecondaryIndexes", [])],
        "LocalSecondaryIndexes": [
            {k: v for k, v in index(i).items() if k != "throughput"}
            for i in found.get("LocalSecondaryIndexes", [])
        ],
    }


@pytest.mark.parametrize("provisioned", [True, False], ids=["provisioned", "on-demand"])
def test_create_makes_the_target_like_the_source(home, provisioned):
    source = home.endpoints["src"].connection()
    target = home.endpoints["dst"].connection()
    table = "copy_idx_" + uuid.uuid4().hex[:8]
    source.run("CreateTable", indexed_table(table, provisioned))
    item = {"pk": "a", "sk": 1, "email": "a@b.c", "day": {"B": "AAE="}, "name": "n", "age": 3}
    source.run("PutItem", {"TableName": table, "Item": item})
    done = home("copy", f"src:{table}", f"dst:{table}", "--create")
    assert done.code == 0, done.stderr
    copied = describe(target, table)
    assert copied["TableStatus"] == "ACTIVE"
    assert _shape(copied) == _shape(describe(source, table))
    assert _shape(copied)["billing"] == ("PROVISIONED" if provisioned else "PAY_PER_REQUEST")
    if provisioned:
        assert _shape(copied)["throughput"] == (7, 3)
        assert _shape(copied)["GlobalSecondaryIndexes"][0]["throughput"] == (5, 2)
    query = {
        "TableName": table,
        "IndexName": "by_email",
        "KeyConditionExpression": "email = :e",
        "ExpressionAttributeValues": {":e": "a@b.c"},
    }
    assert target.run("Query", query).data["Items"] == [
        {"pk": "a", "sk": 1, "email": "a@b.c", "name": "n", "age": 3}
    ]


def test_a_target_keyed_otherwise_is_refused(home, source):
    _endpoint, table, _items = source
    target = home.endpoints["dst"].connection()
    target.run(
        "CreateTable",
        {
            "TableName": table,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    for more in ([], ["--create"]):
        done = home("copy", f"src:{table}", f"dst:{table}", *more)
        assert done.code == 2, done.stderr
        assert "has another key schema" in done.stderr
        assert "pk (HASH, S), not pk (HASH, S), sk (RANGE, N)" in done.stderr
    assert target.run("Scan", {"TableName": table}).data["Count"] == 0


def test_a_missing_target_and_nothing_to_resume_are_clear_errors(home, source, tmp_path):
    _endpoint, table, _items = source
    done = home("copy", f"src:{table}", "dst:nowhere")
    assert done.code == 2
    assert "The target table 'nowhere' does not exist" in done.stderr and "--create" in done.stderr
    done = home("copy", f"src:{table}", "dst:t", "--resume", "--checkpoint", str(tmp_path / "n"))
    assert done.code == 2 and "Nothing to resume" in done.stderr
    done = home("copy", f"src:{table}", "dst:t", "--region", "eu-west-1")
    assert done.code == 2 and "both sides name one" in done.stderr
    left = tmp_path / "left.checkpoint"
    settings = {"source": f"src:{table}", "target": "dst:t", "mode": "overwrite"}
    left.write_text(json.dumps({"version": 1, "settings": settings}))
    done = home("copy", f"src:{table}", "dst:t", "--checkpoint", str(left))
    assert done.code == 2 and "An interrupted copy left the checkpoint" in done.stderr
    done = home("copy", f"src:{table}", "dst:t", "--checkpoint", str(left), "--resume")
    assert done.code == 2 and "The checkpoint is of another copy" in done.stderr
    assert left.exists()


# -- modes


def small_copy(home, tmp_path) -> tuple:
    """A source of 300 items and a target holding 30 of their keys, with other values."""
    source = home.endpoints["src"].connection()
    target = home.endpoints["dst"].connection()
    table = "copy_modes_" + uuid.uuid4().hex[:8]
    source.run("CreateTable", pk_sk_table(table))
    target.run("CreateTable", pk_sk_table(table))
    put_items(source, table, [rich_item(i) for i in range(300)])
    old = [
        {"pk": {"S": f"p{i % 17}"}, "sk": {"N": str(i)}, "v": {"S": "old"}}
        for i in range(0, 300, 10)
    ]
    put_items(target, table, old)
    return source, target, table


def test_copy_skip_existing_leaves_the_items_there_alone(home, tmp_path):
    source, target, table = small_copy(home, tmp_path)
    done = home("copy", f"src:{table}", f"dst:{table}", "--mode", "skip-existing")
    assert done.code == 0, done.stderr
    assert "270 written, 30 skipped (already there), 0 failed." in done.stderr
    copied, original = all_items(target, table), all_items(source, table)
    for key, item in copied.items():
        if int(key[1]) % 10 == 0:
            assert item == {"pk": {"S": key[0]}, "sk": {"N": key[1]}, "v": {"S": "old"}}
        else:
            assert item == original[key]
    assert len(copied) == 300


def test_one_side_can_be_the_connection_flags(home, tmp_path):
    source, _target, table = small_copy(home, tmp_path)
    elsewhere = Endpoint(home.endpoint_url)
    done = home("copy", f"src:{table}", ":copied", "--create", *elsewhere.flags)
    assert done.code == 0, done.stderr
    assert "300 written, 0 failed." in done.stderr
    assert all_items(elsewhere.connection(), "copied") == all_items(source, table)
    done = home("copy", ":copied", f"dst:{table}", "--mode", "skip-existing", *elsewhere.flags)
    assert "270 written, 30 skipped (already there), 0 failed." in done.stderr
    assert list(tmp_path.glob("*.checkpoint")) == []  # the default place, removed once done


def test_copy_fail_existing_writes_nothing(home, tmp_path):
    source, target, table = small_copy(home, tmp_path)
    before = all_items(target, table)
    done = home("copy", f"src:{table}", f"dst:{table}", "--mode", "fail-existing")
    assert done.code == 2, done.stderr
    assert "30 key(s) of" in done.stderr and "nothing was written" in done.stderr
    assert "(and 10 more)" in done.stderr
    assert all_items(target, table) == before


def test_binary_keys_are_looked_up_as_they_are(home):
    """The scan's items carry binary as base64 text; the look-ups of fail-existing and
    skip-existing must find those keys, not their base64 encoded once more."""
    source = home.endpoints["src"].connection()
    target = home.endpoints["dst"].connection()
    table = "copy_bin_" + uuid.uuid4().hex[:8]
    params = {
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "B"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    source.run("CreateTable", params)
    target.run("CreateTable", params)
    put_items(
        source, table, [{"id": {"B": bytes([n, 0, 255])}, "n": {"N": str(n)}} for n in range(50)]
    )
    put_items(target, table, [{"id": {"B": bytes([n, 0, 255])}} for n in range(0, 50, 10)])
    done = home("copy", f"src:{table}", f"dst:{table}", "--mode", "fail-existing")
    assert done.code == 2 and "5 key(s) of" in done.stderr, done.stderr
    assert '{"id":"AAD/"}' in done.stderr  # bytes 0, 0, 255 in base64
    done = home("copy", f"src:{table}", f"dst:{table}", "--mode", "skip-existing")
    assert "45 written, 5 skipped (already there), 0 failed." in done.stderr, done.stderr
