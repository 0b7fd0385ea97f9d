"""Export and import against DynamoDB Local: round trips are exact, a resumed export has no gap and
no duplicate, bad lines are reported with their numbers, and the fast paths give what botocore's
own parsing and serializing would."""

from __future__ import annotations

import base64
import io
import json
from decimal import Decimal

import pytest

from dynaquery import Connection, ServiceError, values
from dynaquery._speed.botocore_hooks import batch_write_body, call_raw, enable_raw
from dynaquery.transfer import (
    ExportInterrupted,
    ImportStopped,
    export_table,
    import_table,
    iter_export,
)

from support import Endpoint, pk_sk_table


def create(conn: Connection, name: str) -> str:
    conn.run("CreateTable", pk_sk_table(name))
    return name


def rich_item(i: int) -> dict:
    """Every kind of value, typed: 38-digit numbers, sets, binary, empty strings, nesting."""
    return {
        "pk": {"S": f"p{i % 5}"},
        "sk": {"N": str(i)},
        "big": {"N": "1234567890123456789012345678901234567" + str(i % 10)},
        "small": {"N": f"-0.{i:03d}00000000000000000000000000000001"},
        "exp": {"N": "1E+100" if i % 2 else "1E-100"},
        "empty": {"S": ""},
        "text": {"S": f'ünïcödé "quoted" \\ line\nbreak {i} ✓'},
        "flag": {"BOOL": i % 3 == 0},
        "none": {"NULL": True},
        "blob": {"B": bytes([i % 256, 0, 255]) * (i % 4)},
        "ss": {"SS": [f"a{i}", "b", ""]} if i % 2 else {"SS": ["x"]},
        "ns": {"NS": ["1", "2.5", str(10**37)]},
        "bs": {"BS": [b"\x00", bytes([i % 256 or 1])]},
        "map": {
            "M": {
                "S": {"S": "a tag as a key"},
                "deep": {"L": [{"M": {"n": {"N": "0.1"}}}, {"L": []}, {"M": {}}]},
            }
        },
        "list": {"L": [{"S": ""}, {"N": "-7"}, {"SS": ["z"]}, {"NULL": True}]},
    }


def plain_item(i: int) -> dict:
    """Values that all have a plain form (no sets, no binary, no tag-like maps)."""
    return {
        "pk": f"p{i % 5}",
        "sk": i,
        "big": Decimal("12345678901234567890123456789012345678"),
        "frac": Decimal(f"{i}.0500"),
        "empty": "",
        "text": f'line\n{i} "ü"',
        "flag": i % 2 == 0,
        "none": None,
        "map": {"a": [1, {"b": ""}, []], "c": {}},
    }


def put_typed(conn: Connection, table: str, items: list[dict]) -> None:
    for start in range(0, len(items), 25):
        result = conn.run(
            "BatchWriteItem",
            {
                "RequestItems": {
                    table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                }
            },
        )
        assert result.complete


def table_items(conn: Connection, table: str) -> dict:
    """Every item of a table, typed as botocore parses it, by key."""
    raw = conn.run("Scan", {"TableName": table}, all_pages=True).raw
    return {(item["pk"]["S"], item["sk"]["N"]): item for item in raw["Items"]}


def normalized(item: dict) -> dict:
    """Sets are sets (DynamoDB keeps no order in them)."""

    def norm(av):
        ((tag, value),) = av.items()
        if tag in ("SS", "NS", "BS"):
            return (tag, frozenset(Decimal(v) if tag == "NS" else v for v in value))
        if tag == "M":
            return ("M", {k: norm(v) for k, v in value.items()})
        if tag == "L":
            return ("L", [norm(v) for v in value])
        if tag == "N":
            return ("N", Decimal(value))
        return (tag, value)

    return {k: norm(v) for k, v in item.items()}


@pytest.fixture
def conn(dynamodb_local) -> Connection:
    return Endpoint(dynamodb_local.endpoint_url).connection()


# ---------------------------------------------------------------------------------------------
# the fast paths give what botocore gives


def test_raw_pages_give_what_botocore_parses(conn):
    create(conn, "rich")
    put_typed(conn, "rich", [rich_item(i) for i in range(60)])
    parsed = conn.run("Scan", {"TableName": "rich"}, all_pages=True)
    enable_raw(conn, "Scan")
    raw = call_raw(conn, "Scan", {"TableName": "rich"})
    assert "ResponseMetadata" in raw and raw["Count"] == 60
    assert values.items_to_plain(raw["Items"]) == parsed.data["Items"]
    assert values.items_jsonl(raw["Items"]) == values.items_jsonl(parsed.raw["Items"])
    # the hook acts only on the transfer's calls: run() still gets botocore's parsing
    again = conn.run("Scan", {"TableName": "rich"}, all_pages=True)
    assert again.raw["Items"] == parsed.raw["Items"]


def test_batch_bodies_are_what_botocore_serializes(conn):
    from botocore.serialize import create_serializer

    items = [rich_item(i) for i in range(25)]
    model = conn.client.meta.service_model.operation_model("BatchWriteItem")
    expected = create_serializer("json", include_validation=False).serialize_to_request(
        {"RequestItems": {"t": [{"PutRequest": {"Item": item}} for item in items]}}, model
    )
    assert json.loads(batch_write_body("t", items)) == json.loads(expected["body"])


# ---------------------------------------------------------------------------------------------
# export


def test_export_writes_every_item_once_as_run_would(conn, tmp_path):
    create(conn, "rich")
    put_typed(conn, "rich", [rich_item(i) for i in range(200)])
    out = tmp_path / "rich.jsonl"
    seen = []
    result = export_table(
        conn,
        "rich",
        out,
        segments=3,
        page_size=17,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.items == result.scanned == 200 and result.pages > 12
    assert result.lossy == 200  # sets and binary have no plain form
    assert not (tmp_path / "rich.jsonl.checkpoint").exists()
    expected = sorted(values.item_json(item) for item in table_items(conn, "rich").values())
    assert sorted(out.read_text(encoding="utf-8").splitlines()) == expected
    assert seen[-1] == (200, 200)


def test_export_formats_and_scan_options(conn, tmp_path):
    create(conn, "plain")
    put_typed(conn, "plain", [values.item_to_typed(plain_item(i)) for i in range(40)])
    document = tmp_path / "out.json"
    export_table(
        conn, "plain", document, segments=2, page_size=7, filter="sk >= :min", values={":min": 30}
    )
    loaded = json.loads(document.read_text(), parse_float=Decimal)
    assert sorted(item["sk"] for item in loaded) == list(range(30, 40))
    assert loaded[0]["big"] == Decimal("12345678901234567890123456789012345678")

    table = tmp_path / "out.csv"
    export_table(conn, "plain", table, projection="pk, sk, #t", names={"#t": "text"})
    lines = table.read_text().splitlines()
    assert lines[0] == "pk,sk,text" and len(lines) == 1 + 40 + 40  # texts hold a line break

    empty = tmp_path / "empty.json"
    create(conn, "nothing")
    export_table(conn, "nothing", empty)
    assert json.loads(empty.read_text()) == []


def test_iter_export_streams_the_same_bytes(conn, tmp_path):
    create(conn, "plain")
    put_typed(conn, "plain", [values.item_to_typed(plain_item(i)) for i in range(30)])
    for fmt in ("jsonl", "json", "csv"):
        out = tmp_path / f"out.{fmt}"
        export_table(conn, "plain", out, segments=1, page_size=8)
        chunks = list(iter_export(conn, "plain", format=fmt, segments=1, page_size=8))
        assert len(chunks) > 3
        assert b"".join(chunks) == out.read_bytes()


def test_round_trip_typed_is_exact(conn, tmp_path):
    create(conn, "source")
    put_typed(conn, "source", [rich_item(i) for i in range(120)])
    for fmt in ("jsonl", "json"):
        out = tmp_path / f"dump.{fmt}"
        export_table(conn, "source", out, typed=True, segments=4)
        target = create(conn, f"copy_{fmt}")
        result = import_table(conn, target, out, workers=3)
        assert (result.written, result.failed) == (120, 0)
        copy, source = table_items(conn, target), table_items(conn, "source")
        assert copy.keys() == source.keys()
        assert all(normalized(copy[k]) == normalized(source[k]) for k in source)


def test_round_trip_plain_is_exact_for_plain_values(conn, tmp_path):
    create(conn, "source")
    put_typed(conn, "source", [values.item_to_typed(plain_item(i)) for i in range(90)])
    out = tmp_path / "dump.jsonl"
    assert export_table(conn, "source", out).lossy == 0
    create(conn, "copy")
    assert import_table(conn, "copy", out).written == 90
    copy, source = table_items(conn, "copy"), table_items(conn, "source")
    assert copy.keys() == source.keys()
    assert all(normalized(copy[k]) == normalized(source[k]) for k in source)


# ---------------------------------------------------------------------------------------------
# checkpoints


class FailingScans(Connection):
    """A real connection whose Scan calls fail once `budget` of them have been made."""

    def __init__(self, budget: int, error: type[BaseException] = ServiceError, **settings):
        super().__init__(**settings)
        self.budget = budget
        self.error = error

    def call(self, operation, params):
        if operation == "Scan":
            if self.budget <= 0:
                if self.error is ServiceError:
                    raise ServiceError("Scan", "InternalServerError", "injected failure")
                raise self.error()
            self.budget -= 1
        return super().call(operation, params)


def keys_in(path, fmt: str = "jsonl") -> list[tuple]:
    text = path.read_text(encoding="utf-8")
    if fmt == "json":
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    return [(row["pk"], row["sk"]) for row in rows]


@pytest.mark.parametrize("error", [ServiceError, KeyboardInterrupt])
@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_resumed_export_has_no_gap_and_no_duplicate(dynamodb_local, tmp_path, error, fmt):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    create(conn, "big")
    put_typed(conn, "big", [values.item_to_typed(plain_item(i)) for i in range(800)])
    out = tmp_path / f"big.{fmt}"
    checkpoint = tmp_path / f"big.{fmt}.checkpoint"

    failing = FailingScans(9, error, **endpoint.settings())
    expected = ExportInterrupted if error is KeyboardInterrupt else ServiceError
    with pytest.raises(expected) as raised:
        export_table(failing, "big", out, format=fmt, segments=4, page_size=25)
    assert "--resume" in str(raised.value) and checkpoint.exists()
    if error is KeyboardInterrupt:
        assert raised.value.exit_code == 130
    saved = json.loads(checkpoint.read_text())
    assert 0 < saved["items"] < 800 and saved["offset"] <= out.stat().st_size
    # A crash could leave bytes past the checkpoint: they are cut off on resume.
    with open(out, "ab") as f:
        f.write(b'{"pk": "half a page that the checkpoint does not')

    with pytest.raises(Exception, match="checkpoint"):
        export_table(conn, "big", out, format=fmt, segments=4, page_size=25)  # not without resume
    with pytest.raises(Exception, match="another export"):
        export_table(conn, "big", out, format=fmt, segments=2, page_size=25, resume=True)

    # fails again midway through the resumed run, then resumes to the end
    with pytest.raises(expected):
        export_table(
            FailingScans(5, error, **endpoint.settings()),
            "big",
            out,
            format=fmt,
            segments=4,
            page_size=25,
            resume=True,
        )
    result = export_table(conn, "big", out, format=fmt, segments=4, page_size=25, resume=True)
    assert result.resumed and result.items == 800 and not checkpoint.exists()
    keys = keys_in(out, fmt)
    assert len(keys) == 800 and set(keys) == {(f"p{i % 5}", i) for i in range(800)}


def test_resume_of_csv_keeps_its_header(dynamodb_local, tmp_path):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    create(conn, "rows")
    put_typed(
        conn,
        "rows",
        [{"pk": {"S": f"p{i % 3}"}, "sk": {"N": str(i)}, "v": {"S": "x"}} for i in range(400)],
    )
    out = tmp_path / "rows.csv"
    with pytest.raises(ServiceError):
        export_table(FailingScans(4, **endpoint.settings()), "rows", out, segments=2, page_size=30)
    export_table(conn, "rows", out, segments=2, page_size=30, resume=True)
    lines = out.read_text().splitlines()
    assert lines.count(lines[0]) == 1 and sorted(lines[0].split(",")) == ["pk", "sk", "v"]
    assert len(lines) == 401 and len(set(lines[1:])) == 400


def test_nothing_to_resume(conn, tmp_path):
    create(conn, "tab")
    with pytest.raises(Exception, match="Nothing to resume"):
        export_table(conn, "tab", tmp_path / "t.jsonl", resume=True)
    with pytest.raises(ServiceError, match="ResourceNotFoundException"):
        export_table(conn, "missing", tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# import


def test_bad_lines_are_reported_and_the_rest_goes_on(conn, tmp_path):
    create(conn, "tab")
    lines = [
        json.dumps({"pk": "a", "sk": 1, "v": "ok"}),
        '{"pk": "a", "sk": 2, ',  # 2: invalid JSON
        json.dumps({"pk": "a"}),  # 3: no sort key
        json.dumps({"pk": "a", "sk": "3"}),  # 4: wrong key type
        json.dumps({"pk": {"S": "a"}, "sk": {"N": "4"}, "v": {"N": "x"}}),  # 5: bad number
        "",
        json.dumps({"pk": "a", "sk": 5, "big": "x" * 410_000}),  # 7: too large for DynamoDB
        json.dumps({"pk": "a", "sk": 6, "v": {"SS": ["typed"]}}),
        "[1, 2]",  # 9: not an object
        json.dumps({"pk": "a", "sk": 1, "v": "last one wins"}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reported = []
    result = import_table(conn, "tab", path, workers=2, on_error=reported.append)
    assert (result.written, result.failed, result.lines) == (3, 6, 9)
    assert sorted(e.line for e in result.errors) == [2, 3, 4, 5, 7, 9]
    assert sorted(e.line for e in reported) == [2, 3, 4, 5, 7, 9]
    messages = {e.line: e.message for e in result.errors}
    assert "invalid JSON" in messages[2]
    assert "'sk' is missing" in messages[3]
    assert "must be of type N, not S" in messages[4]
    assert "v.N" in messages[5] and "not a number" in messages[5]
    assert "size" in messages[7].lower()
    items = table_items(conn, "tab")
    assert items[("a", "1")]["v"] == {"S": "last one wins"}
    assert items[("a", "6")]["v"] == {"SS": ["typed"]}


def test_a_number_past_decimals_range_is_a_bad_line_not_a_crash(conn, tmp_path):
    create(conn, "tab")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"pk": "a", "sk": 1}\n{"pk": "a", "sk": 2, "v": 1e9991249999999999989}\n')
    array = tmp_path / "in.json"
    array.write_text('[{"pk": "a", "sk": 3}, {"pk": "a", "sk": 4, "v": -1e-9991249999999999989}]')
    for path in (jsonl, array):
        result = import_table(conn, "tab", path)
        assert (result.written, result.failed) == (1, 1)
        assert [e.line for e in result.errors] == [2 if path is jsonl else 1]
        assert "out of range" in result.errors[0].message
    assert sorted(table_items(conn, "tab")) == [("a", "1"), ("a", "3")]


def test_strict_stops_at_the_first_bad_line(conn, tmp_path):
    create(conn, "tab")
    good = [json.dumps({"pk": "a", "sk": i}) for i in range(10)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(good + ["not json"] + good) + "\n")
    with pytest.raises(ImportStopped, match="line 11") as raised:
        import_table(conn, "tab", path, strict=True)
    assert raised.value.exit_code == 2
    assert raised.value.result.written == 10 and raised.value.result.failed == 1


def test_import_of_a_json_array_and_csv(conn, tmp_path):
    create(conn, "tab")
    array = tmp_path / "in.json"
    array.write_text(
        '[\n  {"pk": "a", "sk": 1, "n": 12345678901234567890123456789012345678},\n'
        '  {"pk": "a",\n   "sk": 2, "x": {"B": "'
        + base64.b64encode(b"\xff").decode()
        + '"}},\n  {"pk": "a", "sk": "bad"}\n]\n'
    )
    result = import_table(conn, "tab", array)
    assert (result.written, result.failed) == (2, 1) and result.errors[0].line == 5
    items = table_items(conn, "tab")
    assert items[("a", "1")]["n"] == {"N": "12345678901234567890123456789012345678"}
    assert items[("a", "2")]["x"] == {"B": b"\xff"}

    rows = tmp_path / "in.csv"
    rows.write_text('pk,sk,name,score,tags\n007,3,Ann,1.50,"[""x""]"\nb,4,,true,\n')
    assert import_table(conn, "tab", rows).written == 2
    items = table_items(conn, "tab")
    assert normalized(items[("007", "3")]) == normalized(
        {
            "pk": {"S": "007"},
            "sk": {"N": "3"},
            "name": {"S": "Ann"},
            "score": {"N": "1.50"},
            "tags": {"L": [{"S": "x"}]},
        }
    )
    assert items[("b", "4")] == {"pk": {"S": "b"}, "sk": {"N": "4"}, "score": {"BOOL": True}}


def test_import_into_a_missing_table(conn, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"pk": "a", "sk": 1}\n')
    with pytest.raises(ServiceError, match="ResourceNotFoundException"):
        import_table(conn, "missing", path)


def deep_plain(levels: int):
    """A plain value inside `levels` lists."""
    value = "x"
    for _ in range(levels):
        value = [value]
    return value


def deep_typed(levels: int) -> dict:
    """A typed value inside `levels` maps."""
    value = {"S": "x"}
    for _ in range(levels):
        value = {"M": {"k": value}}
    return value


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_line_nested_too_deeply_is_a_bad_line_and_the_rest_goes_on(conn, tmp_path, fmt):
    create(conn, "tab")
    values_ = [
        None,
        "[" * 1000 + '"x"' + "]" * 1000,  # past the JSON parser's depth
        json.dumps(deep_typed(32)),  # parses, past DynamoDB's 32
        json.dumps(deep_typed(31)),  # as deep as DynamoDB allows
        json.dumps({"L": [deep_plain(31)]}),  # too deep, one level at a time
        None,
    ]
    path = tmp_path / f"in.{fmt}"
    lines = [
        '{"pk": "a", "sk": %d%s}' % (sk, f', "v": {v}' if v else "")
        for sk, v in enumerate(values_, 1)
    ]
    if fmt == "jsonl":
        path.write_text("".join(line + "\n" for line in lines))
    elif fmt == "json":
        path.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    else:
        path.write_text(
            "pk,sk,v\n"
            + "".join(
                "a,%d,%s\n" % (sk, '"' + v.replace('"', '""') + '"' if v else "")
                for sk, v in enumerate(values_, 1)
            )
        )
    result = import_table(conn, "tab", path, workers=2)
    first = 1 if fmt == "jsonl" else 2  # the line of the first item
    assert (result.written, result.failed, result.lines) == (3, 3, 6)
    assert sorted(e.line for e in result.errors) == [first + 1, first + 2, first + 4]
    for error in result.errors:
        assert "nested too deeply" in error.message and "32" in error.message, error
    assert sorted(table_items(conn, "tab")) == [("a", "1"), ("a", "4"), ("a", "6")]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_byte_order_mark_at_the_start_is_not_a_bad_line(conn, tmp_path, fmt):
    create(conn, "tab")
    text = {
        "jsonl": '{"pk": "a", "sk": 1}\n{"pk": "a", "sk": 2}\n',
        "json": '[{"pk": "a", "sk": 1}, {"pk": "a", "sk": 2}]',
        "csv": "pk,sk\na,1\na,2\n",
    }[fmt]
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = import_table(conn, "tab", path)
    assert (result.written, result.failed) == (2, 0), result.errors
    assert sorted(table_items(conn, "tab")) == [("a", "1"), ("a", "2")]
    # A file object gives the same (binary, or text that kept the mark).
    create(conn, "tab2")
    assert import_table(conn, "tab2", io.BytesIO(path.read_bytes()), format=fmt).written == 2
    create(conn, "tab3")
    assert import_table(conn, "tab3", io.StringIO("\ufeff" + text), format=fmt).written == 2


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_line_that_is_not_utf8_is_a_bad_line_with_its_number(conn, tmp_path, fmt):
    create(conn, "tab")
    bad = '"caf\udce9"'  # a Latin-1 é: the byte 0xE9 alone
    if fmt == "jsonl":
        text = '{"pk": "a", "sk": 1}\n{"pk": "a", "sk": 2, "v": %s}\n{"pk": "a", "sk": 3}\n' % bad
    elif fmt == "json":
        text = (
            '[{"pk": "a", "sk": 1},\n {"pk": "a",\n  "sk": 2, "v": %s},\n {"pk": "a", "sk": 3}]'
            % bad
        )
    else:
        text = "pk,sk,v\na,1,x\na,2,%s\na,3,y\n" % bad[1:-1]
    data = text.encode("utf-8", "surrogateescape")
    expected_line = 3 if fmt == "json" else 2 if fmt == "jsonl" else 3
    for source in (tmp_path / f"in.{fmt}", io.BytesIO(data)):
        if not isinstance(source, io.BytesIO):
            source.write_bytes(data)
        result = import_table(conn, "tab", source, format=fmt)
        assert (result.written, result.failed) == (2, 1), result.errors
        assert [e.line for e in result.errors] == [expected_line]
        assert "not UTF-8" in result.errors[0].message and "0xE9" in result.errors[0].message
    assert sorted(table_items(conn, "tab")) == [("a", "1"), ("a", "3")]


def test_a_csv_row_the_reader_refuses_is_a_bad_line(conn, tmp_path):
    create(conn, "tab")
    path = tmp_path / "in.csv"
    path.write_text('pk,sk,v\na,1,x\na,2,"' + "y" * 200_000 + '"\na,3,z\n')  # past csv's cell limit
    result = import_table(conn, "tab", path)
    assert (result.written, result.failed) == (2, 1)
    assert result.errors[0].line == 3 and "invalid CSV" in result.errors[0].message
    assert sorted(table_items(conn, "tab")) == [("a", "1"), ("a", "3")]


def test_the_import_command_reports_each_bad_line_of_stdin_and_goes_on(dynamodb_local):
    from click.testing import CliRunner

    from dynaquery.cli import cli

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    create(conn, "tab")
    data = (
        b'\xef\xbb\xbf{"pk": "a", "sk": 1}\n'
        b'{"pk": "a", "sk": 2, "v": "\xff"}\n'
        + b'{"pk": "a", "sk": 3, "v": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}\n"
        b'{"pk": "a", "sk": 4}\n'
    )
    result = CliRunner().invoke(cli, ["import", "tab", "-", *endpoint.flags], input=data)
    assert result.exit_code == 1, result.output
    assert "line 2: not UTF-8 text" in result.stderr
    assert "line 3: nested too deeply" in result.stderr
    assert "2 written, 2 failed." in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.output
    assert sorted(table_items(conn, "tab")) == [("a", "1"), ("a", "4")]

    strict = CliRunner().invoke(
        cli, ["import", "tab", "-", "--strict", *endpoint.flags], input=data
    )
    assert strict.exit_code == 2 and "line 2: not UTF-8 text" in strict.stderr


# ---------------------------------------------------------------------------------------------
# the commands


def test_export_and_import_commands(dynamodb_local, tmp_path):
    from support import dynaquery

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    create(conn, "source")
    put_typed(conn, "source", [rich_item(i) for i in range(50)])

    to_stdout = dynaquery("export", "source", *endpoint.flags, "--segments", "2")
    assert to_stdout.code == 0, to_stdout.stderr
    assert sorted(to_stdout.stdout.splitlines()) == sorted(
        values.item_json(item) for item in table_items(conn, "source").values()
    )
    assert "--typed keeps them exact" in to_stdout.stderr  # sets and binary, said once

    dump = tmp_path / "dump.json"
    typed = dynaquery("export", "source", *endpoint.flags, "-o", str(dump), "--typed")
    assert typed.code == 0 and typed.stdout == "" and typed.stderr == ""
    create(conn, "copy")
    loaded = dynaquery("import", "copy", str(dump), *endpoint.flags)
    assert loaded.code == 0 and loaded.stderr.strip() == "50 written, 0 failed."
    copy, source = table_items(conn, "copy"), table_items(conn, "source")
    assert {k: normalized(v) for k, v in copy.items()} == {
        k: normalized(v) for k, v in source.items()
    }

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"pk": "a", "sk": 1}\n{"pk": \n{"pk": "a", "sk": 2}\n')
    partial = dynaquery("import", "copy", str(bad), *endpoint.flags)
    assert partial.code == 1
    assert "line 2: invalid JSON" in partial.stderr and "2 written, 1 failed." in partial.stderr
    strict = dynaquery("import", "copy", str(bad), *endpoint.flags, "--strict")
    assert strict.code == 2 and "line 2" in strict.stderr
    stdin = dynaquery("import", "copy", "-", *endpoint.flags, stdin='{"pk": "z", "sk": 9}\n')
    assert stdin.code == 0 and "1 written" in stdin.stderr

    no_file = dynaquery("export", "source", *endpoint.flags, "--resume")
    assert no_file.code == 2 and "--resume needs the -o FILE" in no_file.stderr
    missing = dynaquery("export", "nope", *endpoint.flags)
    assert missing.code == 1 and "ResourceNotFoundException" in missing.stderr


def test_ctrl_c_leaves_a_checkpoint_and_resume_finishes(dynamodb_local, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from support import clean_env

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    create(conn, "slow")
    # Enough pages that the export is far from done when the signal arrives, even on a busy machine.
    put_typed(conn, "slow", [values.item_to_typed(plain_item(i)) for i in range(1500)])
    out = tmp_path / "slow.jsonl"
    command = [
        sys.executable,
        "-m",
        "dynaquery",
        "export",
        "slow",
        *endpoint.flags,
        "-o",
        str(out),
        "--page-size",
        "5",
        "--segments",
        "2",
    ]
    process = subprocess.Popen(
        command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size == 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Export interrupted" in stderr and "--resume" in stderr
    assert (tmp_path / "slow.jsonl.checkpoint").exists()
    done = subprocess.run(
        command + ["--resume"], env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    keys = keys_in(out)
    assert len(keys) == 1500 and set(keys) == {(f"p{i % 5}", i) for i in range(1500)}


def test_no_import_into_a_read_only_data_source(dynamodb_local, tmp_path):
    from dynaquery import ConnectionConfig
    from dynaquery.errors import ReadOnlyError

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    create(endpoint.connection(), "tab")
    path = tmp_path / "in.jsonl"
    path.write_text('{"pk": "a", "sk": 1}\n')
    read_only = Connection(ConnectionConfig(**endpoint.settings(), read_only=True))
    with pytest.raises(ReadOnlyError):
        import_table(read_only, "tab", path)
    assert export_table(read_only, "tab", tmp_path / "out.jsonl").items == 0
