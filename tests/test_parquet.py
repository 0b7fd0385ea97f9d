"""Export to Parquet: every item read back with DuckDB is the item in the table, types and all
(38-digit numbers, decimals, sets, binary, maps, lists, NULL, missing attributes); columns widen
across row groups; memory stays flat; nothing is half-written; pyarrow missing is said clearly."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from decimal import Decimal

import duckdb
import pyarrow.parquet as pq
import pytest

from dynaquery.transfer import export_table, iter_export, parquet, write_parquet

from support import ROOT, Endpoint, dynaquery, pk_sk_table


@pytest.fixture
def endpoint(dynamodb_local) -> Endpoint:
    return Endpoint(dynamodb_local.endpoint_url)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def typed_items() -> list[dict]:
    """Every type, numbers of every size, and attributes that only some items have."""
    items = []
    for i in range(40):
        item = {
            "pk": {"S": f"p{i % 3}"},
            "sk": {"N": str(i)},
            "text": {"S": f'ünï "q" \\ {i}\n✓' if i % 7 else ""},
            "big": {
                "N": ("-" if i % 2 else "") + "1234567890123456789012345678901234567" + str(i % 10)
            },
            "frac": {"N": f"{i}.{i:02d}5" if i % 4 else "-0.000001"},
            "huge": {"N": "1E+100" if i % 2 else "1.5E-100"},
            "flag": {"BOOL": i % 3 == 0},
            "blob": {"B": bytes([i, 0, 255])},
            "ss": {"SS": [f"a{i}", "b", ""]},
            "ns": {"NS": ["1", "-2.5", "9" * 38]},
            "bs": {"BS": [b"\x00", bytes([i + 1])]},
            "map": {"M": {"n": {"N": "0.1"}, "b": {"B": b"\xff"}, "s": {"NS": ["3"]}}},
            "list": {"L": [{"S": ""}, {"N": "-7"}, {"NULL": True}, {"L": []}]},
            "none": {"NULL": True},
            "mixed": {"S": "seven"} if i % 2 else {"N": str(i)},
        }
        for drop in ("text", "ss", "map", "none", "blob")[: i % 6]:
            del item[drop]  # missing attributes, more for some items
        items.append(item)
    return items


def put(endpoint: Endpoint, table: str, items: list[dict]) -> None:
    conn = endpoint.connection()
    conn.run("CreateTable", pk_sk_table(table))
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        assert conn.run("BatchWriteItem", {"RequestItems": {table: batch}}).complete


def scanned_with_boto3(endpoint: Endpoint, table: str) -> dict:
    """The table's items as boto3 gives them (typed, binary as bytes), by key."""
    client = endpoint.boto3()
    items = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items[(item["pk"]["S"], Decimal(item["sk"]["N"]))] = normalized(item)
    return items


def normalized(item: dict) -> dict:
    """A typed item to compare: numbers as Decimals, sets as sets, binary as bytes."""

    def norm(av: dict):
        ((tag, value),) = av.items()
        if tag in ("SS", "NS", "BS"):
            return tag, frozenset(norm({tag[0]: v})[1] for v in value)
        if tag == "N":
            return tag, Decimal(value)
        if tag == "B":
            return tag, base64.b64decode(value) if isinstance(value, str) else bytes(value)
        if tag == "M":
            return tag, {k: norm(v) for k, v in value.items()}
        if tag == "L":
            return tag, [norm(v) for v in value]
        return tag, value

    return {name: norm(av) for name, av in item.items()}


def read_back(path) -> dict:
    """The file's rows, read with DuckDB, made typed items again by the columns' metadata."""
    fields = {f.name: f.metadata for f in pq.read_schema(path)}
    relation = duckdb.sql(f"select * from read_parquet('{path}')")
    items = {}
    for row in relation.fetchall():
        item = {}
        for name, cell in zip(relation.columns, row):
            if cell is not None:
                item[name] = typed(fields[name], cell)
        items[(item["pk"]["S"], Decimal(item["sk"]["N"]))] = normalized(item)
    return items


def typed(metadata: dict, cell) -> dict:
    tag = metadata[b"dynamodb_type"].decode()
    if metadata.get(b"encoding") == b"typed_json":
        return json.loads(cell)
    if tag == "N":
        return {"N": str(cell)}
    if tag == "NS":
        return {"NS": [str(n) for n in cell]}
    return {tag: cell}


def test_export_reads_back_exactly(endpoint, tmp_path, monkeypatch):
    table = unique("pq")
    put(endpoint, table, typed_items())
    monkeypatch.setattr(parquet, "ROW_GROUP", 7)  # several row groups, types widened across them
    out = tmp_path / "items.parquet"
    done = dynaquery("export", table, "-o", str(out), "--segments", "3", *endpoint.flags)
    assert done.code == 0, done.stderr
    expected = scanned_with_boto3(endpoint, table)
    assert len(expected) == 40
    assert read_back(out) == expected
    assert pq.ParquetFile(out).metadata.num_row_groups == 6
    schema = pq.read_schema(out)
    assert schema.names[:2] == ["pk", "sk"]  # the key first, then by name
    kinds = {f.name: (str(f.type), f.metadata) for f in schema}
    assert kinds["big"] == ("decimal128(38, 0)", {b"dynamodb_type": b"N"})
    assert kinds["frac"][0] == "decimal128(38, 6)"
    assert kinds["huge"][1] == {b"dynamodb_type": b"N", b"encoding": b"number_text"}
    assert kinds["ns"][0] == "list<element: string>"  # 38 nines and a decimal: no decimal fits
    assert kinds["ss"] == ("list<element: string>", {b"dynamodb_type": b"SS"})
    assert kinds["bs"][0] == "list<element: binary>" and kinds["blob"][0] == "binary"
    assert kinds["mixed"][1] == {b"dynamodb_type": b"mixed", b"encoding": b"typed_json"}
    assert kinds["none"][1][b"encoding"] == b"typed_json"

    # the same through the stream the API sends, and --format with another extension
    streamed = tmp_path / "streamed.parquet"
    conn = endpoint.connection()
    streamed.write_bytes(b"".join(iter_export(conn, table, format="parquet", segments=2)))
    assert read_back(streamed) == expected
    other = tmp_path / "items.bin"
    done = dynaquery("export", table, "-o", str(other), "--format", "parquet", *endpoint.flags)
    assert done.code == 0, done.stderr
    assert read_back(other) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "items.bin",
        "items.parquet",
        "streamed.parquet",
    ]


def test_columns_widen_across_row_groups(tmp_path):
    """A column's type is decided by every value, whichever row group it is in."""
    items = [
        {"pk": {"S": "a"}, "x": {"S": "text"}, "n": {"N": "1"}},
        {"pk": {"S": "b"}, "x": {"S": ""}, "n": {"N": "2"}},
        {"pk": {"S": "c"}, "x": {"N": "3"}, "n": {"N": "0.25"}},
        {"pk": {"S": "d"}, "x": {"BS": ["AAE="]}, "n": {"N": "-4"}},
        {
            "pk": {"S": "e"},
            "n": {"N": "99999999999999999999999999999999999.5"},
            "new": {"BOOL": False},
        },
    ]
    out = tmp_path / "w.parquet"
    assert write_parquet(iter(items), out, keys={"pk": "S"}, row_group=2) == 5
    table = pq.read_table(out)
    assert table.column("x").to_pylist() == [
        '{"S":"text"}',
        '{"S":""}',
        '{"N":"3"}',
        '{"BS":["AAE="]}',
        None,
    ]
    assert str(table.schema.field("n").type) == "decimal128(38, 2)"  # 35 + 2 digits fit
    assert table.column("n").to_pylist()[2:] == [
        Decimal("0.25"),
        Decimal("-4"),
        Decimal("99999999999999999999999999999999999.5"),
    ]
    assert table.column("new").to_pylist() == [None] * 4 + [False]

    too_big = items + [{"pk": {"S": "f"}, "n": {"N": "1234567890123456789012345678901234567"}}]
    assert write_parquet(iter(too_big), out, row_group=2) == 6  # 37 + 2 digits: no decimal
    column = pq.read_table(out).column("n").to_pylist()
    assert column[1:3] == ["2", "0.25"] and column[5] == "1234567890123456789012345678901234567"


def test_empty_table_has_its_key_columns(endpoint, tmp_path):
    table = unique("pq-empty")
    put(endpoint, table, [])
    out = tmp_path / "empty.parquet"
    result = export_table(endpoint.connection(), table, out)
    assert (result.items, result.format, result.output) == (0, "parquet", str(out))
    export_table(endpoint.connection(), table, tmp_path / "empty.jsonl")
    assert out.stat().st_mode == (tmp_path / "empty.jsonl").stat().st_mode  # the umask's mode
    relation = duckdb.sql(f"select * from '{out}'")
    assert relation.columns == ["pk", "sk"] and relation.fetchall() == []


def test_nothing_half_written(endpoint, tmp_path):
    def failing():
        for i in range(25):
            yield {"pk": {"S": str(i)}}
        raise RuntimeError("the source broke")

    out = tmp_path / "broken.parquet"
    with pytest.raises(RuntimeError, match="the source broke"):
        write_parquet(failing(), out, row_group=10)
    missing = dynaquery(
        "export", unique("not-there"), "-o", str(tmp_path / "x.parquet"), *endpoint.flags
    )
    assert missing.code == 1 and "not-there" in missing.stderr
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file or part left


def test_refusals(endpoint, tmp_path):
    table = unique("pq-refused")
    put(endpoint, table, typed_items()[:2])
    out = str(tmp_path / "r.parquet")
    resumed = dynaquery("export", table, "-o", out, "--resume", *endpoint.flags)
    assert resumed.code == 2 and "cannot be resumed" in resumed.stderr
    columns = dynaquery("export", table, "-o", out, "--columns", "pk", *endpoint.flags)
    assert columns.code == 2 and "projection" in columns.stderr
    (tmp_path / "in.parquet").write_bytes(b"PAR1")
    imported = dynaquery("import", table, str(tmp_path / "in.parquet"), *endpoint.flags)
    assert imported.code == 2 and "written by export only" in imported.stderr
    wrong = dynaquery("import", table, out, "--format", "parquet", *endpoint.flags)
    assert wrong.code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_pyarrow_missing_is_said(endpoint, tmp_path, monkeypatch):
    table = unique("pq-nopyarrow")
    put(endpoint, table, typed_items()[:2])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    out = tmp_path / "t.parquet"
    done = dynaquery("export", table, "-o", str(out), *endpoint.flags)
    assert done.code == 2
    assert "pip install 'dynaquery[parquet]'" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(Exception, match=r"dynaquery\[parquet\]"):
        list(iter_export(endpoint.connection(), table, format="parquet"))
    assert list(tmp_path.iterdir()) == []


MEASURE = """
import resource, sys
from dynaquery.transfer import write_parquet

def items(n):
    for i in range(n):
        yield {
            "pk": {"S": "user#%08d" % i}, "sk": {"N": str(i)},
            "name": {"S": "name %d with some text to make it longer" % i},
            "price": {"N": "%d.%02d" % (i, i % 100)}, "big": {"N": "1" * 30 + str(i)},
            "tags": {"SS": ["a", "b", str(i % 50)]}, "blob": {"B": "AAECAwQFBgcICQ=="},
            "flag": {"BOOL": i % 2 == 0}, "doc": {"M": {"k": {"N": str(i)}, "l": {"L": []}}},
            **({"sometimes": {"S": "x"}} if i % 3 else {"sometimes": {"N": "1"}}),
        }

n = int(sys.argv[1])
assert write_parquet(items(n), sys.argv[2], keys={"pk": "S", "sk": "N"}) == n
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_kb(items: int, path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(items), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_memory_stays_flat(tmp_path):
    """The writer fed from a generator (loading 200,000 items into DynamoDB Local would take
    minutes; the scan's own memory is bounded by its queue of pages, see scan.py)."""
    small = peak_rss_kb(20_000, tmp_path / "small.parquet")
    large = peak_rss_kb(200_000, tmp_path / "large.parquet")
    print(f"peak RSS: 20,000 items {small / 1024:.0f} MB, 200,000 items {large / 1024:.0f} MB")
    assert pq.ParquetFile(tmp_path / "large.parquet").metadata.num_rows == 200_000
    assert large <= 1.2 * small
