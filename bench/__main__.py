"""dynaquery against plain boto3 (and the AWS CLI), side by side on the same DynamoDB Local, and
against bench/replay.py (pages replayed from memory: the client's own cost).

    scripts/bench                      # everything, as docs/performance.md reports it
    .venv/bin/python -m bench --runs 3 --items 100000 --only codec getitem
    scripts/bench --only replay        # the replayed export and copy, 1, 2 and 4 segments

Every ratio is measured in this one run, dynaquery and the baseline taking turns, and is the
median of several runs. This is no test: it prints each ratio next to its goal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCHES = ("codec", "replay", "export", "memory", "import", "getitem", "coldstart")
REPLAY_SEGMENTS = (1, 2, 4)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def new_key() -> str:
    """DynamoDB Local keeps one database per access key: a fresh key, a fresh database."""
    return "bench" + uuid.uuid4().hex[:10]


def start_replay(items: int) -> tuple[subprocess.Popen, str]:
    """bench/replay.py in a process of its own: the process, and its endpoint."""
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.replay", "--items", str(items)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env=task_env(),
        text=True,
    )
    endpoint = process.stdout.readline().strip()
    if not endpoint.startswith("http://"):
        process.kill()
        raise SystemExit("the replay endpoint did not start")
    return process, endpoint


def run_task(*args: str) -> tuple[dict, int]:
    """A task of bench.tasks in a process of its own: its result, and its peak memory (KB)."""
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.tasks", *args], cwd=ROOT, stdout=subprocess.PIPE, env=task_env()
    )
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"bench task {args[0]} failed (exit {process.returncode})")
    return json.loads(out), usage.ru_maxrss


def task_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DYNAQUERY_"))}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
    )
    return env


class Bench:
    def __init__(self, endpoint: str, items: int, runs: int, work: Path):
        self.endpoint = endpoint
        self.items = items
        self.runs = runs
        self.work = work
        self.rows: list[tuple[str, str, str, bool]] = []
        self.figures: list[tuple[str, ...]] = []  # the replay's: every client, side by side

    def connection(self, key: str):
        from dynaquery import Connection

        return Connection(
            endpoint_url=self.endpoint,
            region="us-east-1",
            access_key_id=key,
            secret_access_key="bench",
        )

    def row(self, name: str, measured: str, goal: str, ok: bool) -> None:
        self.rows.append((name, measured, goal, ok))
        log(f"{name}: {measured} (goal {goal}) {'pass' if ok else 'FAIL'}")

    def warm_up(self) -> None:
        """A fresh JVM compiles as it goes: give it some work first, then a moment."""
        key = new_key()
        self.table(key, "warmup", 5000)
        conn = self.connection(key)
        for _ in range(3):
            conn.run("Scan", {"TableName": "warmup"}, all_pages=True)
        conn.run("DeleteTable", {"TableName": "warmup"})
        time.sleep(5)

    def table(self, key: str, name: str, count: int) -> None:
        """A table of `count` bench items, loaded with dynaquery's import."""
        from dynaquery.transfer import import_table

        from .data import table_definition, write_files

        conn = self.connection(key)
        conn.run("CreateTable", table_definition(name))
        typed, _plain = write_files(self.work, count)
        started = time.perf_counter()
        result = import_table(conn, name, typed)
        assert result.written == count and not result.failed, result.errors[:3]
        log(f"loaded {count} items into {name} in {time.perf_counter() - started:.1f}s")

    # -- 1 ------------------------------------------------------------------------------------

    def codec(self) -> None:
        """Typed -> plain and plain -> typed on the same items, TypeDeserializer/TypeSerializer
        against dynaquery's codec, as botocore hands items over (binary as bytes)."""
        import gc
        import timeit

        from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

        from dynaquery import values

        from .data import typed_item

        typed = [typed_item(i) for i in range(2000)]
        deserializer, serializer = TypeDeserializer(), TypeSerializer()
        plain = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in typed]
        for item in plain:  # the same input for both: Binary is boto3's own wrapper
            for k, v in item.items():
                if isinstance(v, Binary):
                    item[k] = v.value

        def boto_plain():
            return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in typed]

        def our_plain():
            return values.items_to_plain(typed)

        def boto_typed():
            return [{k: serializer.serialize(v) for k, v in item.items()} for item in plain]

        def our_typed():
            return [values.item_to_typed(item) for item in plain]

        def per_item(function) -> float:
            return min(timeit.repeat(function, number=1, repeat=5)) / len(typed) * 1e6

        assert our_typed() == [{k: values.to_typed(v) for k, v in item.items()} for item in plain]
        results: dict[str, list[float]] = {"bp": [], "op": [], "bt": [], "ot": []}
        gc.collect()
        for _ in range(self.runs * 3):
            results["bp"].append(per_item(boto_plain))
            results["op"].append(per_item(our_plain))
            results["bt"].append(per_item(boto_typed))
            results["ot"].append(per_item(our_typed))
        m = {k: median(v) for k, v in results.items()}
        engine = "C" if values.ACCELERATED else "pure Python"
        ratio = m["bp"] / m["op"]
        self.row(
            "1a typed->plain vs TypeDeserializer",
            f"{ratio:.1f}x faster ({m['op']:.2f} vs {m['bp']:.2f} us/item, {engine})",
            "(information)",  # the goals are the replayed export's (0a, 0b)
            True,
        )
        ratio = m["bt"] / m["ot"]
        self.row(
            "1b plain->typed vs TypeSerializer",
            f"{ratio:.1f}x faster ({m['ot']:.2f} vs {m['bt']:.2f} us/item, {engine})",
            "(information)",
            True,
        )

    # -- 0 ------------------------------------------------------------------------------------

    def replay(self) -> None:
        """Export (and copy) against bench/replay.py: pages from memory, so the client's CPU is
        what is measured. Per 100,000 items, CPU seconds of the client process alone."""
        process, endpoint = start_replay(self.items)
        try:
            for segments in REPLAY_SEGMENTS:
                warm = self.work / "replay-warm.jsonl"  # the server builds its pages once
                run_task("replay-export-dynaquery", endpoint, str(segments), str(warm))
                self.replay_export(endpoint, segments)
            if (ROOT / "src" / "dynaquery" / "transfer" / "copy.py").exists():
                for segments in REPLAY_SEGMENTS:
                    self.replay_copy(endpoint, segments)
        finally:
            process.kill()
            process.wait()

    def replay_runs(self, kind: str, clients: tuple[str, ...], *args: str) -> dict:
        """Median items/s and CPU seconds per 100,000 items of each client, taking turns."""
        rates: dict[str, list[float]] = {who: [] for who in clients}
        cpus: dict[str, list[float]] = {who: [] for who in clients}
        for _run in range(self.runs):
            for who in clients:
                extra = (str(self.work / f"replay-{who}.jsonl"),) if kind == "export" else ()
                result, _rss = run_task(f"replay-{kind}-{who}", *args, *extra)
                assert result["items"] == self.items, (who, result)
                rates[who].append(result["items"] / result["seconds"])
                cpus[who].append(result["cpu"] / result["items"] * 100_000)
        return {who: (median(rates[who]), median(cpus[who])) for who in clients}

    def replay_export(self, endpoint: str, segments: int) -> None:
        clients = ("dynaquery", "parsed", "boto3", "floor")
        m = self.replay_runs("export", clients, endpoint, str(segments))
        self.replay_figures(f"export, {segments} segment(s)", m)
        (ours, cpu), (_, boto3_cpu), (_, floor_cpu) = m["dynaquery"], m["boto3"], m["floor"]
        self.row(
            f"0a export replayed, {segments} seg.: CPU / boto3's",
            f"{boto3_cpu / cpu:.1f}x less CPU ({cpu:.2f} vs {boto3_cpu:.2f} s per 100,000 items; "
            f"{ours:,.0f} vs {m['boto3'][0]:,.0f} items/s)",
            ">= 20x",
            boto3_cpu / cpu >= 20,
        )
        self.row(
            f"0b export replayed, {segments} seg.: CPU / the floor's",
            f"{floor_cpu / cpu:.0%} of the floor's efficiency ({cpu:.2f} vs {floor_cpu:.2f} s "
            f"per 100,000 items; {ours:,.0f} vs {m['floor'][0]:,.0f} items/s)",
            ">= 100 %",
            floor_cpu / cpu >= 1,
        )

    def replay_copy(self, endpoint: str, segments: int) -> None:
        m = self.replay_runs("copy", ("dynaquery", "boto3", "floor"), endpoint, str(segments))
        self.replay_figures(f"copy, {segments} segment(s)", m)
        (ours, cpu), (_, boto3_cpu), (_, floor_cpu) = m["dynaquery"], m["boto3"], m["floor"]
        self.row(
            f"0c copy replayed, {segments} seg.",
            f"{ours:,.0f} items/s, {cpu:.2f} CPU s per 100,000 items: {boto3_cpu / cpu:.1f}x "
            f"less than boto3's ({boto3_cpu:.2f}), {floor_cpu / cpu:.0%} of the floor's "
            f"efficiency ({floor_cpu:.2f})",
            "(none)",
            True,
        )

    def replay_figures(self, what: str, measured: dict) -> None:
        for who, (rate, cpu) in measured.items():
            self.figures.append((what, who, f"{rate:,.0f}", f"{cpu:.2f}"))
        log(
            f"{what}: "
            + ", ".join(f"{w} {r:,.0f}/s {c:.2f} CPU s" for w, (r, c) in measured.items())
        )

    # -- 2 ------------------------------------------------------------------------------------

    def export(self) -> None:
        key = new_key()
        self.table(key, "bench", self.items)
        rates: dict[str, list[float]] = {"boto3": [], "dynaquery": []}
        for run in range(self.runs):
            for who in ("boto3", "dynaquery"):
                out = self.work / f"export-{who}.jsonl"
                result, _rss = run_task(f"export-{who}", self.endpoint, key, "bench", str(out))
                assert result["items"] == self.items, result
                rates[who].append(result["items"] / result["seconds"])
                log(f"export run {run + 1}, {who}: {rates[who][-1]:,.0f} items/s")
                out.unlink()
        ours, theirs = median(rates["dynaquery"]), median(rates["boto3"])
        self.row(
            f"2a export {self.items:,} items to JSON lines",
            f"{ours / theirs:.1f}x the items/s ({ours:,.0f} vs {theirs:,.0f})",
            ">= 2x",
            ours / theirs >= 2,
        )
        self.connection(key).run("DeleteTable", {"TableName": "bench"})

    def memory(self) -> None:
        key = new_key()
        small, large = self.items // 5, self.items * 2
        self.table(key, "small", small)
        self.table(key, "large", large)
        peaks: dict[str, list[int]] = {"small": [], "large": []}
        for _ in range(max(2, self.runs - 1)):
            for name in ("small", "large"):
                out = self.work / f"memory-{name}.jsonl"
                _result, rss = run_task("export-dynaquery", self.endpoint, key, name, str(out))
                peaks[name].append(rss)
                out.unlink()
        s, l_ = median(peaks["small"]) / 1024, median(peaks["large"]) / 1024
        self.row(
            f"2b export peak memory, {large:,} / {small:,} items",
            f"{l_ / s:.2f}x ({l_:.0f} vs {s:.0f} MB)",
            "<= 1.2x",
            l_ / s <= 1.2,
        )
        for name in ("small", "large"):
            self.connection(key).run("DeleteTable", {"TableName": name})

    # -- 3 ------------------------------------------------------------------------------------

    def import_(self) -> None:
        from .data import table_definition, write_files

        _typed, plain = write_files(self.work, self.items)
        rates: dict[str, list[float]] = {"boto3": [], "dynaquery": [], "ceiling": []}
        for run in range(self.runs):
            for who in ("boto3", "dynaquery", "ceiling"):
                key = new_key()
                conn = self.connection(key)
                conn.run("CreateTable", table_definition("loaded"))
                result, _rss = run_task(f"import-{who}", self.endpoint, key, "loaded", plain)
                count = conn.run(
                    "Scan", {"TableName": "loaded", "Select": "COUNT"}, all_pages=True
                ).data["Count"]
                assert result["items"] == count == self.items, (result, count)
                rates[who].append(result["items"] / result["seconds"])
                log(f"import run {run + 1}, {who}: {rates[who][-1]:,.0f} items/s")
                conn.run("DeleteTable", {"TableName": "loaded"})
        ours, theirs = median(rates["dynaquery"]), median(rates["boto3"])
        ceiling = median(rates["ceiling"])
        self.row(
            f"3  import {self.items:,} items (JSON lines)",
            f"{ours / theirs:.1f}x the items/s ({ours:,.0f} vs {theirs:,.0f}; the server "
            f"takes at most {ceiling:,.0f}, {ceiling / theirs:.1f}x)",
            ">= 2x",
            ours / theirs >= 2,
        )

    # -- 4 ------------------------------------------------------------------------------------

    def getitem(self) -> None:
        import boto3

        from .data import table_definition, typed_item

        key = new_key()
        conn = self.connection(key)
        conn.run("CreateTable", table_definition("items"))
        conn.run(
            "BatchWriteItem",
            {
                "RequestItems": {
                    "items": [{"PutRequest": {"Item": typed_item(i)}} for i in range(100)]
                }
            },
        )
        client = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id=key,
            aws_secret_access_key="bench",
        )
        times: dict[str, list[float]] = {"boto3": [], "dynaquery": []}

        def boto3_call(i: int):
            item = typed_item(i)
            return client.get_item(TableName="items", Key={"pk": item["pk"], "sk": item["sk"]})

        def dynaquery_call(i: int):
            return conn.run(
                "GetItem", {"TableName": "items", "Key": {"pk": f"user#{i % 997:04d}", "sk": i}}
            )

        assert dynaquery_call(7).data["Item"]["sk"] == 7 and "Item" in boto3_call(7)
        calls = {"boto3": boto3_call, "dynaquery": dynaquery_call}
        for _ in range(50):  # warm both up
            boto3_call(1), dynaquery_call(1)
        for block in range(self.runs * 20):
            for who in ("boto3", "dynaquery") if block % 2 else ("dynaquery", "boto3"):
                for i in range(50):
                    started = time.perf_counter()
                    calls[who](i)
                    times[who].append(time.perf_counter() - started)
        ours, theirs = median(times["dynaquery"]) * 1000, median(times["boto3"]) * 1000
        self.row(
            "4  GetItem p50, library / boto3 client",
            f"{ours / theirs:.2f}x ({ours:.3f} vs {theirs:.3f} ms)",
            "<= 1.1x",
            ours / theirs <= 1.1,
        )
        conn.run("DeleteTable", {"TableName": "items"})

    # -- 5 ------------------------------------------------------------------------------------

    def coldstart(self) -> None:
        # An installed package has its bytecode compiled (pip does it); so do we here.
        subprocess.run(
            [PYTHON, "-m", "compileall", "-q", str(ROOT / "src" / "dynaquery")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        bindir = Path(PYTHON).parent
        flags = ["--endpoint-url", self.endpoint, "--region", "us-east-1"]
        # For reference, the least any botocore program does: create a client, call ListTables.
        floor = (
            "import botocore.session; botocore.session.get_session().create_client("
            f"'dynamodb', region_name='us-east-1', endpoint_url='{self.endpoint}')"
            ".list_tables()"
        )
        commands = {
            "dynaquery": [str(bindir / "dynaquery"), "run", "ListTables", *flags],
            "aws": [str(bindir / "aws"), "dynamodb", "list-tables", *flags],
            "botocore": [PYTHON, "-c", floor],
        }
        env = {**task_env(), "AWS_ACCESS_KEY_ID": new_key(), "AWS_SECRET_ACCESS_KEY": "bench"}
        times: dict[str, list[float]] = {"dynaquery": [], "aws": [], "botocore": []}
        for round_ in range(2 + self.runs * 4):
            for who, command in commands.items():
                started = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True)
                elapsed = time.perf_counter() - started
                if done.returncode:
                    raise SystemExit(f"{who} failed: {done.stderr.decode()[-500:]}")
                if round_ >= 2:  # the first rounds warm the file cache
                    times[who].append(elapsed)
        ours, theirs = median(times["dynaquery"]), median(times["aws"])
        floor = median(times["botocore"])
        self.row(
            "5  cold start: run ListTables / aws dynamodb list-tables",
            f"{ours / theirs:.2f}x ({ours:.3f} vs {theirs:.3f} s; a bare botocore "
            f"script: {floor:.3f} s, {floor / theirs:.2f}x)",
            "<= 0.5x",
            ours / theirs <= 0.5,
        )


def print_table(rows: list[tuple[str, str, str, bool]]) -> None:
    headers = ("benchmark", "measured", "goal", "result")
    print_cells(headers, [(n, m, g, "pass" if ok else "FAIL") for n, m, g, ok in rows])


def print_cells(headers: tuple[str, ...], cells: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(len(headers))]
    line = lambda c: "| " + " | ".join(str(v).ljust(w) for v, w in zip(c, widths)) + " |"  # noqa: E731
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print(line(c))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--items",
        type=int,
        default=100_000,
        help="items of the export and import tables (memory: /5 and x2)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each, for the medians")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these")
    parser.add_argument("--endpoint", help="a DynamoDB Local already running (else one is started)")
    args = parser.parse_args()

    from dynaquery import values

    if not values.ACCELERATED:
        log("note: the C codec is not built; measuring the pure Python one")
    selected = [name for name in BENCHES if name in (args.only or BENCHES)]
    work = Path(tempfile.mkdtemp(prefix="dynaquery-bench-"))
    bench = Bench("", args.items, args.runs, work)
    started = time.perf_counter()
    server = None
    try:
        if "codec" in selected:  # first: no server yet to share the CPU and caches with
            bench.codec()
        if "replay" in selected:  # before DynamoDB Local too: its own server only
            bench.replay()
        if args.endpoint:
            bench.endpoint = args.endpoint.rstrip("/")
        elif set(selected) - {"codec", "replay"}:
            from dynaquery.local import start_dynamodb_local

            server = start_dynamodb_local()
            bench.endpoint = server.endpoint_url
            log(f"DynamoDB Local at {bench.endpoint}; warming it up")
            bench.warm_up()
        for name in selected:
            if name not in ("codec", "replay"):
                getattr(bench, "import_" if name == "import" else name)()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if server is not None:
            server.stop()
    print()
    print(
        f"dynaquery benchmarks: {args.items:,} items, medians of {args.runs} runs, "
        f"{time.perf_counter() - started:.0f}s in all; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, codec: {'C' if values.ACCELERATED else 'pure Python'}"
    )
    print()
    print_table(bench.rows)
    if bench.figures:
        print()
        print("Replayed (bench/replay.py): each client's items/s and CPU seconds per 100,000 items")
        print()
        print_cells(("what", "client", "items/s", "CPU s / 100,000 items"), bench.figures)
    if not all(ok for *_, ok in bench.rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
