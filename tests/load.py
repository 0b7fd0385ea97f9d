"""The load test (scripts/load; not part of the normal suite, tests/test_load.py runs a short one).

Starts DynamoDB Local (or uses --endpoint-url), seeds the documentation's tables, starts
`dynaquery serve` with a token on loopback, saves a few queries, then runs --clients concurrent
clients (threads, each with its own keep-alive connection) running saved queries through the
server for --seconds. Reports the requests, the failures that are not genuine DynamoDB errors
(which must be none), latency percentiles, requests per second, and the server process's RSS at
the start, the middle and the end.

    python tests/load.py [--seconds 60] [--clients 50] [--endpoint-url URL] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

TOKEN = "load-" + uuid.uuid4().hex

QUERIES = [
    # name, operation, params, values: a mix of reads, a write, and a genuine DynamoDB error
    (
        "team",
        "Query",
        '{"TableName": "users", "KeyConditionExpression": "team_id = :t", '
        '"ExpressionAttributeValues": {":t": "{{ team }}"}}',
        {"team": "team_1"},
    ),
    (
        "one",
        "GetItem",
        '{"TableName": "users", "Key": {"team_id": "team_2", "employee_id": "{{ id }}"}}',
        {"id": "emp_3"},
    ),
    ("scan", "Scan", '{"TableName": "locations", "Limit": 25}', None),
    (
        "put",
        "PutItem",
        '{"TableName": "users", "Item": {"team_id": "load", '
        '"employee_id": "{{ id }}", "name": "x"}}',
        {"id": "e1"},
    ),
    ("missing", "GetItem", '{"TableName": "no_such_table", "Key": {"id": "1"}}', None),
]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Api:
    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body=None) -> tuple[int, dict | list | None]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            self.connection.request(method, path, body=data, headers=headers)
            answer = self.connection.getresponse()
            text = answer.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise
        return answer.status, (json.loads(text) if text else None)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run_clients(seconds: float, clients: int, make_call) -> dict:
    """`clients` threads calling `make_call()()` in a loop for `seconds`; each call returns "ok",
    "dynamodb_error" or ("failure", detail). The counts, latency percentiles and requests/s."""
    latencies: list[float] = []
    outcomes = {"ok": 0, "dynamodb_error": 0, "failure": 0}
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        call = make_call(number)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            kind, detail = call()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                outcomes[kind] += 1
                if kind == "failure" and len(failures) < 20:
                    failures.append(detail)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    duration = time.monotonic() - began
    latencies.sort()
    total = sum(outcomes.values())
    return {
        "seconds": round(duration, 1),
        "clients": clients,
        "requests": total,
        **outcomes,
        "failures_seen": failures,
        "requests_per_s": round(total / duration, 1),
        "latency_ms": {f"p{p}": round(percentile(latencies, p) * 1000, 1) for p in (50, 95, 99)}
        | {"max": round(latencies[-1] * 1000, 1) if latencies else 0},
    }


def run_direct(endpoint_url: str, seconds: float, clients: int) -> dict:
    """The same GetItem as the saved query `one`, sent by boto3 straight to DynamoDB Local:
    one client per thread, as `clients` separate programs would."""
    import boto3

    def make_call(_number: int):
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=DIRECT_KEY,
            aws_secret_access_key="load-secret",
        )
        key = {"team_id": {"S": "team_2"}, "employee_id": {"S": "emp_3"}}

        def call():
            try:
                dynamodb.get_item(TableName="users", Key=key)
                return "ok", ""
            except Exception as error:  # noqa: BLE001 - counted, as the server's are
                return "failure", f"{type(error).__name__}: {error}"

        return call

    return run_clients(seconds, clients, make_call)


DIRECT_KEY = "load" + uuid.uuid4().hex[:10]


def run_load(
    endpoint_url: str, seconds: float, clients: int, only: str | None = None, workers: int = 1
) -> dict:
    from dynaquery import Connection
    from dynaquery.demo import seed
    from dynaquery.local import free_port

    access_key = DIRECT_KEY
    seed(
        Connection(
            endpoint_url=endpoint_url,
            region="us-east-1",
            access_key_id=access_key,
            secret_access_key="load-secret",
        )
    )
    home = tempfile.mkdtemp(prefix="dynaquery-load-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYNAQUERY_"))}
    env.update(
        DYNAQUERY_HOME=home,
        DYNAQUERY_TOKEN=TOKEN,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dynaquery", "serve", "--port", str(port)]
        + ["--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                if Api(port).call("GET", "/api/session")[0] == 200:
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("dynaquery serve did not start") from None
                time.sleep(0.2)
        setup = Api(port)
        status, ds = setup.call(
            "POST",
            "/api/datasources",
            {
                "name": "load",
                "endpoint_url": endpoint_url,
                "region": "us-east-1",
                "access_key_id": access_key,
                "secret_access_key": "load-secret",
            },
        )
        assert status == 201, ds
        ids = []
        for name, operation, params, values in QUERIES:
            status, saved = setup.call(
                "POST",
                "/api/queries",
                {"name": name, "datasource": ds["id"], "operation": operation, "params": params},
            )
            assert status == 201, saved
            ids.append((saved["id"], values))
        for query_id, values in ids:  # warm up: imports, the catalog, connections
            setup.call("POST", f"/api/queries/{query_id}/run", {"values": values} if values else {})

        if only:
            ids = [ids[[q[0] for q in QUERIES].index(only)]]
        rss = {"start": rss_kb(server.pid)}
        sampler = threading.Timer(seconds / 2, lambda: rss.update(middle=rss_kb(server.pid)))
        sampler.start()

        def make_call(number: int):
            state = {"api": Api(port), "i": number}

            def call():
                query_id, values = ids[state["i"] % len(ids)]
                state["i"] += 1
                body = {"values": values} if values else {}
                try:
                    status, answer = state["api"].call("POST", f"/api/queries/{query_id}/run", body)
                except Exception as error:  # a dropped connection, a timeout
                    state["api"] = Api(port)
                    return "failure", f"{type(error).__name__}: {error}"
                if status == 200:
                    return "ok", ""
                genuine = isinstance(answer, dict) and answer.get("error") == "ServiceError"
                if status == 502 and genuine:
                    return "dynamodb_error", ""
                return "failure", f"{status} {json.dumps(answer)[:300]}"

            return call

        report = run_clients(seconds, clients, make_call)
        sampler.join()
        rss["end"] = rss_kb(server.pid)
        return {
            **report,
            "server_rss_kb": rss,
            "rss_growth_kb": rss["end"] - rss["start"],
            "rss_growth_second_half_kb": rss["end"] - rss["middle"],
            "server_alive": server.poll() is None,
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--endpoint-url", help="a DynamoDB Local already running (else one is started)"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="the saved GetItem through `serve` against the same clients calling DynamoDB Local "
        "directly with boto3, one after the other, and their ratio",
    )
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers`")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    engine = None
    endpoint = args.endpoint_url
    if not endpoint:
        from dynaquery.local import start_dynamodb_local

        engine = start_dynamodb_local()
        endpoint = engine.endpoint_url
    try:
        if args.compare:
            served = run_load(endpoint, args.seconds, args.clients, "one", args.workers)
            direct = run_direct(endpoint, args.seconds, args.clients)
            ratio = round(served["requests_per_s"] / max(direct["requests_per_s"], 0.1), 2)
            report = {"through_serve": served, "direct": direct, "ratio": ratio}
        else:
            report = run_load(endpoint, args.seconds, args.clients, workers=args.workers)
    finally:
        if engine is not None:
            engine.stop()
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.compare:
        print_report("through `dynaquery serve` (saved GetItem)", report["through_serve"])
        print_report("direct (boto3 GetItem)", report["direct"])
        print(f"ratio: {report['ratio']} of the direct requests/s")
    else:
        print_report("through `dynaquery serve` (saved queries)", report)
    served = report["through_serve"] if args.compare else report
    failed = served["failure"] or (args.compare and report["direct"]["failure"])
    return 0 if not failed and served["server_alive"] else 1


def print_report(title: str, report: dict) -> None:
    lat = report["latency_ms"]
    print(
        f"{title}: {report['clients']} clients for {report['seconds']} s, "
        f"{report['requests']} requests, {report['requests_per_s']} requests/s"
    )
    print(
        f"  ok {report['ok']}, genuine DynamoDB errors {report['dynamodb_error']}, "
        f"other failures {report['failure']}"
    )
    print(
        f"  latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, "
        f"max {lat['max']} ms"
    )
    rss = report.get("server_rss_kb")
    if rss:
        print(
            f"  server RSS: start {rss['start'] / 1024:.1f} MiB, middle {rss['middle'] / 1024:.1f} "
            f"MiB, end {rss['end'] / 1024:.1f} MiB (growth {report['rss_growth_kb'] / 1024:+.1f} "
            f"MiB, second half {report['rss_growth_second_half_kb'] / 1024:+.1f} MiB)"
        )
    for failure in report["failures_seen"]:
        print(f"  failure: {failure}")


if __name__ == "__main__":
    sys.exit(main())
