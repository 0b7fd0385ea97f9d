"""Faults between dynaquery and DynamoDB Local: throttling, 500s, connection resets, slow answers
and cut-off bodies, injected by tests/faultproxy.py on the real wire. Nothing is lost, nothing is
written twice, a failure says what happened and how to go on, and nothing hangs."""

from __future__ import annotations

import json
import threading

import pytest

from dynaquery import Connection, ConnectionFailed, DynaqueryError, ServiceError
from dynaquery.transfer import export_table, import_table

from faultproxy import FaultProxy
from support import Endpoint, dynaquery_process, pk_sk_table

TABLE = pk_sk_table("faults")


@pytest.fixture
def endpoint(dynamodb_local) -> Endpoint:
    """A fresh database (a fresh access key), with the table."""
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    endpoint.connection().run("CreateTable", TABLE)
    return endpoint


@pytest.fixture
def proxy(dynamodb_local):
    with FaultProxy(dynamodb_local.endpoint_url) as proxy:
        yield proxy


def through(endpoint: Endpoint, proxy: FaultProxy, **config) -> Connection:
    """A connection to the same database, by way of the proxy."""
    return Connection(**{**endpoint.settings(), "endpoint_url": proxy.endpoint_url, **config})


def item(i: int) -> dict:
    return {"pk": f"p{i % 10}", "sk": i, "body": f"item {i}"}


def put_items(endpoint: Endpoint, count: int) -> None:
    writes = [{"PutRequest": {"Item": item(i)}} for i in range(count)]
    assert (
        endpoint.connection().run("BatchWriteItem", {"RequestItems": {"faults": writes}}).complete
    )


def keys(items) -> list[tuple]:
    return [(entry["pk"], int(entry["sk"])) for entry in items]


def all_keys(count: int) -> set[tuple]:
    return {(f"p{i % 10}", i) for i in range(count)}


def table_keys(endpoint: Endpoint) -> tuple[int, list[tuple]]:
    """What the table really holds, read directly (not through the proxy): the count DynamoDB
    gives, and every key."""
    direct = endpoint.connection()
    count = direct.run("Scan", {"TableName": "faults", "Select": "COUNT"}, all_pages=True)
    found = direct.run(
        "Scan", {"TableName": "faults", "ProjectionExpression": "pk, sk"}, all_pages=True
    )
    return count.data["Count"], keys(found.data["Items"])


# ---------------------------------------------------------------------------------------------
# throttled batches: every item in, exactly once


N_BIG = 10_000  # the import, with 8 threads
N_RUN = 2_500  # one BatchWriteItem run, sent 25 at a time, one call after the other


def test_batch_write_with_30_percent_throttled(endpoint, proxy):
    """botocore does not retry (max_attempts=1): every throttle reaches dynaquery's own backoff."""
    proxy.configure(
        kinds=("throttle", "throttling"), rate=0.3, operations={"BatchWriteItem"}, seed=1
    )
    conn = through(endpoint, proxy, retry_mode="standard", max_attempts=1)
    writes = [{"PutRequest": {"Item": item(i)}} for i in range(N_RUN)]
    result = conn.run("BatchWriteItem", {"RequestItems": {"faults": writes}}, batch_timeout=120)
    stats = proxy.stats()

    assert result.complete and result.data["UnprocessedItems"] == {}
    throttled = stats["injected"]
    assert 0.25 * stats["requests"] < throttled < 0.35 * stats["requests"]
    # Each throttled call was sent again once by dynaquery, and nothing else was sent twice.
    assert result.meta["batch_requests"] == N_RUN // 25
    assert result.meta["batch_retries"] == throttled
    assert result.meta["retries"] == 0
    assert stats["by_operation"]["BatchWriteItem"] == N_RUN // 25 + throttled
    count, found = table_keys(endpoint)
    assert count == N_RUN and len(found) == N_RUN and set(found) == all_keys(N_RUN)


def test_import_of_10000_items_with_30_percent_throttled(endpoint, proxy, tmp_path):
    """botocore retries once (max_attempts=2), so some throttles get through it to the import's
    own backoff; 8 threads at once."""
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps(item(i)) + "\n" for i in range(N_BIG)))
    proxy.configure(
        kinds=("throttle", "throttling"), rate=0.3, operations={"BatchWriteItem"}, seed=2
    )
    conn = through(endpoint, proxy, retry_mode="standard", max_attempts=2)
    result = import_table(conn, "faults", source, workers=8, batch_timeout=120)
    stats = proxy.stats()

    assert result.complete and result.written == N_BIG and result.failed == 0, result.errors
    throttled = stats["injected"]
    assert throttled > 0.25 * stats["by_operation"]["BatchWriteItem"]
    # Every request was answered by DynamoDB (all 200) or throttled; of the answered ones, no
    # batch was sent twice: 400 full batches, and at most one partial batch per thread.
    assert stats["requests"] == stats["forwarded"] + throttled
    assert stats["statuses"] == {200: stats["forwarded"]}
    assert N_BIG // 25 <= stats["by_operation"]["BatchWriteItem"] - throttled <= N_BIG // 25 + 8
    count, found = table_keys(endpoint)
    assert count == N_BIG and len(found) == N_BIG and set(found) == all_keys(N_BIG)


# ---------------------------------------------------------------------------------------------
# cut off midway: the error says where to go on, and going on gives exactly the rest


@pytest.mark.parametrize("kind", ["reset", "cutoff"])
def test_scan_cut_off_midway_resumes_with_exactly_the_rest(endpoint, proxy, kind):
    put_items(endpoint, 250)
    conn = through(endpoint, proxy, retry_mode="standard", max_attempts=2)
    pages: list[list] = []
    conn.client.meta.events.register(
        "after-call.dynamodb.Scan",
        lambda parsed, http_response, **_: (
            http_response.status_code == 200 and pages.append(parsed.get("Items", []))
        ),
    )
    # Three pages get through, then every Scan fails (twice: botocore's retry is spent too).
    proxy.configure(kinds=kind, rate=1.0, operations={"Scan"}, skip=3)
    scan = {"TableName": "faults", "Limit": 50}
    with pytest.raises(ConnectionFailed) as info:
        conn.run("Scan", scan, all_pages=True)
    error = info.value
    assert proxy.faults(kind) == 2 and proxy.requests("Scan") == 5
    assert "3 page(s) had been read before the error" in error.message
    assert error.resume_token and error.resume_token in error.message
    before = [entry for page in pages for entry in page]
    assert len(before) == 150

    proxy.configure(kinds=())
    after = conn.run("Scan", scan, all_pages=True, starting_token=error.resume_token)
    # The pages before the error (as botocore parsed them: typed), then the rest.
    got = [(e["pk"]["S"], int(e["sk"]["N"])) for e in before] + keys(after.data["Items"])
    assert len(got) == 250 and set(got) == all_keys(250)


@pytest.mark.parametrize("kind", ["reset", "cutoff"])
def test_export_cut_off_midway_resumes_with_exactly_the_rest(endpoint, proxy, tmp_path, kind):
    put_items(endpoint, 600)
    output = tmp_path / "out.jsonl"
    conn = through(endpoint, proxy, retry_mode="standard", max_attempts=2)
    proxy.configure(kinds=kind, rate=1.0, operations={"Scan"}, skip=4)
    with pytest.raises(DynaqueryError) as info:
        export_table(conn, "faults", output, segments=3, page_size=50)
    assert isinstance(info.value, ConnectionFailed)
    assert "--resume" in info.value.message and "checkpoint" in info.value.message
    checkpoint = tmp_path / "out.jsonl.checkpoint"
    assert checkpoint.exists()
    assert proxy.faults(kind) >= 2

    proxy.configure(kinds=())
    result = export_table(conn, "faults", output, segments=3, page_size=50, resume=True)
    assert result.resumed and not checkpoint.exists()
    got = keys(json.loads(line) for line in output.read_text().splitlines())
    assert len(got) == 600 and set(got) == all_keys(600)


# ---------------------------------------------------------------------------------------------
# a slow endpoint: the read timeout, said clearly, never a hang


def test_a_slow_endpoint_hits_the_read_timeout(endpoint, proxy):
    put_items(endpoint, 1)
    proxy.configure(kinds="slow", rate=1.0, operations={"GetItem"}, slow_seconds=10)
    conn = through(endpoint, proxy, read_timeout=1, max_attempts=1)
    outcome: list = []

    def call():
        try:
            outcome.append(
                conn.run("GetItem", {"TableName": "faults", "Key": {"pk": "p0", "sk": 0}})
            )
        except BaseException as error:  # handed to the test
            outcome.append(error)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the call hung"
    (error,) = outcome
    assert isinstance(error, ConnectionFailed)
    assert "read timeout" in error.message and "within 1s" in error.message
    assert "GetItem" in error.message


def test_the_command_on_a_slow_endpoint_says_timeout_and_exits_1(endpoint, proxy):
    proxy.configure(kinds="slow", rate=1.0, operations={"GetItem"}, slow_seconds=10)
    flags = [f if f != endpoint.endpoint_url else proxy.endpoint_url for f in endpoint.flags]
    get = '{"TableName": "faults", "Key": {"pk": "a", "sk": 1}}'
    # a real process: the exit status and stderr of the installed command
    done = dynaquery_process(
        "run", "GetItem", get, *flags, "--read-timeout", "1", "--max-attempts", "1", timeout=60
    )
    assert done.code == 1 and done.stdout == ""
    assert "read timeout" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------
# retries follow the configured mode


@pytest.mark.parametrize("mode", ["standard", "adaptive", "legacy"])
def test_retries_follow_the_mode_and_show_in_meta(endpoint, proxy, mode):
    put_items(endpoint, 40)
    get = {"TableName": "faults", "Key": {"pk": "p3", "sk": 3}}
    conn = through(endpoint, proxy, retry_mode=mode, max_attempts=3)

    proxy.configure(kinds="500", rate=1.0, operations={"GetItem"}, first=2)
    result = conn.run("GetItem", get)
    assert result.data["Item"] == item(3)
    assert result.meta["retries"] == 2 == proxy.requests("GetItem") - 1

    # Several calls: the retries are what the proxy saw, less one per page.
    proxy.configure(kinds="500", rate=0.3, operations={"Scan"}, seed=3)
    result = conn.run("Scan", {"TableName": "faults", "Limit": 10}, all_pages=True)
    assert sorted(keys(result.data["Items"])) == sorted(all_keys(40))
    assert proxy.faults("500") > 2
    assert result.meta["retries"] == proxy.requests("Scan") - result.meta["pages"] > 0

    # One attempt: the 500 is the answer.
    proxy.reset_counts()
    proxy.configure(kinds="500", rate=1.0, operations={"GetItem"}, first=1)
    with pytest.raises(ServiceError) as info:
        through(endpoint, proxy, retry_mode=mode, max_attempts=1).run("GetItem", get)
    assert info.value.code == "InternalServerError" and info.value.status == 500
    assert proxy.requests("GetItem") == 1


# ---------------------------------------------------------------------------------------------
# one call: botocore's retries make every fault invisible


@pytest.mark.parametrize("kind", ["cutoff", "500", "reset", "throttle", "throttling"])
@pytest.mark.parametrize("mode", [None, "standard"])
def test_a_single_get_item_is_retried_and_correct(endpoint, proxy, kind, mode):
    put_items(endpoint, 5)
    proxy.configure(kinds=kind, rate=1.0, operations={"GetItem"}, first=1)
    conn = through(endpoint, proxy, retry_mode=mode)
    result = conn.run("GetItem", {"TableName": "faults", "Key": {"pk": "p4", "sk": 4}})
    assert result.data == {"Item": item(4)}
    assert result.meta["retries"] == 1
    assert proxy.faults(kind) == 1 and proxy.requests("GetItem") == 2


def test_a_cut_off_answer_on_the_last_attempt_is_an_error_not_an_empty_result(endpoint, proxy):
    """botocore reads a body without checking its length, and on the last attempt lets an answer
    whose CRC32 does not match through: dynaquery checks it."""
    put_items(endpoint, 5)
    proxy.configure(kinds="cutoff", rate=1.0, operations={"GetItem"})
    for mode in ("standard", "adaptive", "legacy"):
        conn = through(endpoint, proxy, retry_mode=mode, max_attempts=2)
        with pytest.raises(ConnectionFailed) as info:
            conn.run("GetItem", {"TableName": "faults", "Key": {"pk": "p4", "sk": 4}})
        assert "cut off or damaged" in info.value.message
    assert proxy.faults("cutoff") == 6
