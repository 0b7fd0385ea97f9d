"""import --mode overwrite|skip-existing|fail-existing and --dry-run, against DynamoDB Local: the
counts are exact, skip-existing never clobbers an item that is there, fail-existing and a dry
run write nothing (the table is compared whole before and after), bad lines come with their
numbers."""

from __future__ import annotations

import json
import uuid

import pytest

from dynaquery import Connection
from dynaquery.transfer import import_table
from dynaquery.transfer.importing import MODES

from support import Endpoint, dynaquery, pk_sk_table

BIG = "x" * 410_000  # past DynamoDB's 400 KB for an item


@pytest.fixture
def endpoint(dynamodb_local) -> Endpoint:
    return Endpoint(dynamodb_local.endpoint_url)


def table_with_old_items(conn: Connection) -> str:
    """A table holding the keys of lines 2 and 5 of LINES, with other values."""
    name = "modes_" + uuid.uuid4().hex[:10]
    conn.run("CreateTable", pk_sk_table(name))
    for sk in (2, 5):
        conn.run("PutItem", {"TableName": name, "Item": {"pk": "a", "sk": sk, "v": "old"}})
    return name


# line: what it is
LINES = [
    {"pk": "a", "sk": 1, "v": "new"},  # 1: new
    {"pk": "a", "sk": 2, "v": "new"},  # 2: existing
    "{not json",  # 3: invalid JSON
    {"pk": "a", "sk": 3, "v": "first"},  # 4: new
    {"pk": "a", "sk": 5, "v": "new"},  # 5: existing
    {"sk": 9, "v": "no pk"},  # 6: missing key attribute
    {"pk": "a", "sk": "7", "v": "sk is a string"},  # 7: key of the wrong type
    {"pk": "a", "sk": 3, "v": "second"},  # 8: repeats line 4's key
    {"pk": "a", "sk": 8, "v": BIG},  # 9: too big
    {"pk": {"S": "a"}, "sk": {"N": "4"}, "set": {"SS": ["x", "y"]}},  # 10: new, typed
]
NEW, EXISTING, REPEATED, INVALID = [1, 4, 10], [2, 5], [8], [3, 6, 7, 9]


def write_lines(path) -> str:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in LINES),
        encoding="utf-8",
    )
    return str(path)


def whole_table(conn: Connection, table: str) -> list:
    items = conn.run("Scan", {"TableName": table, "ConsistentRead": True}, all_pages=True).data
    return sorted(json.dumps(i, sort_keys=True, default=str) for i in items["Items"])


def item(conn: Connection, table: str, sk: int) -> dict | None:
    return conn.run("GetItem", {"TableName": table, "Key": {"pk": "a", "sk": sk}}).data.get("Item")


def test_the_commands_modes_are_the_librarys():
    from dynaquery.cli.transfer import IMPORT_MODES

    assert tuple(IMPORT_MODES.choices) == MODES


def test_overwrite_is_the_default_and_replaces_existing_items(endpoint, tmp_path):
    conn = endpoint.connection()
    table = table_with_old_items(conn)
    done = dynaquery("import", table, write_lines(tmp_path / "f.jsonl"), *endpoint.flags)
    assert done.code == 1, done.stderr  # bad lines
    assert "6 written, 4 failed." in done.stderr
    assert item(conn, table, 2)["v"] == "new"
    assert item(conn, table, 3)["v"] == "second"  # the last line for a key wins
    for line in INVALID:
        assert f"line {line}: " in done.stderr


def test_skip_existing_leaves_existing_items_as_they_were(endpoint, tmp_path):
    conn = endpoint.connection()
    table = table_with_old_items(conn)
    path = write_lines(tmp_path / "f.jsonl")
    done = dynaquery("import", table, path, "--mode", "skip-existing", *endpoint.flags)
    assert done.code == 1, done.stderr
    # written: lines 1, 4, 10; skipped: the two keys there before, and line 8 (line 4 wrote it)
    assert "3 written, 3 skipped (already there), 4 failed." in done.stderr
    assert item(conn, table, 2) == {"pk": "a", "sk": 2, "v": "old"}
    assert item(conn, table, 5) == {"pk": "a", "sk": 5, "v": "old"}
    assert item(conn, table, 3)["v"] == "first"
    assert item(conn, table, 4)["set"] == ["x", "y"]

    result = import_table(conn, table, path, mode="skip-existing")  # everything is there now
    assert (result.written, result.skipped, result.failed) == (0, 6, 4)


def test_fail_existing_writes_nothing_and_lists_the_keys(endpoint, tmp_path):
    conn = endpoint.connection()
    table = table_with_old_items(conn)
    before = whole_table(conn, table)
    done = dynaquery(
        "import",
        table,
        write_lines(tmp_path / "f.jsonl"),
        "--mode",
        "fail-existing",
        *endpoint.flags,
    )
    assert done.code == 2, done.stderr
    assert "2 line(s) hold a key that is already in" in done.stderr
    assert 'line 2: {"pk":"a","sk":2}' in done.stderr
    assert 'line 5: {"pk":"a","sk":5}' in done.stderr
    assert "nothing was written" in done.stderr
    assert whole_table(conn, table) == before


def test_fail_existing_writes_a_file_of_new_keys_from_stdin(endpoint):
    conn = endpoint.connection()
    table = table_with_old_items(conn)
    lines = "".join(json.dumps({"pk": "b", "sk": n, "v": n}) + "\n" for n in range(60))
    done = dynaquery("import", table, "-", "--mode", "fail-existing", *endpoint.flags, stdin=lines)
    assert done.code == 0, done.stderr
    assert "60 written, 0 failed." in done.stderr
    assert len(whole_table(conn, table)) == 62


def test_fail_existing_lists_the_first_keys_and_counts_them_all(endpoint, tmp_path):
    conn = endpoint.connection()
    table = "modes_" + uuid.uuid4().hex[:10]
    conn.run("CreateTable", pk_sk_table(table))
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps({"pk": "c", "sk": n}) + "\n" for n in range(130)))
    assert import_table(conn, table, str(path)).written == 130
    before = whole_table(conn, table)
    done = dynaquery("import", table, str(path), "--mode", "fail-existing", *endpoint.flags)
    assert done.code == 2
    assert "130 line(s) hold a key" in done.stderr
    assert "(and 110 more)" in done.stderr  # 20 listed
    assert done.stderr.count('{"pk":"c"') == 20
    assert whole_table(conn, table) == before


@pytest.mark.parametrize(
    "mode, fate, code",
    [
        ("overwrite", "overwritten", 1),
        ("skip-existing", "skipped", 1),
        ("fail-existing", "refused", 2),
    ],
)
def test_dry_run_reports_and_writes_nothing(endpoint, tmp_path, mode, fate, code):
    conn = endpoint.connection()
    table = table_with_old_items(conn)
    before = whole_table(conn, table)
    path = write_lines(tmp_path / "f.jsonl")
    done = dynaquery("import", table, path, "--dry-run", "--mode", mode, *endpoint.flags)
    assert done.code == code, done.stderr
    assert (
        f"Dry run, nothing written: 10 line(s): 3 new, 2 already in {table!r} (would be {fate}), "
        "1 repeating an earlier line's key, 4 invalid." in done.stderr
    )
    assert 'Already there: line 2: {"pk":"a","sk":2}, line 5: {"pk":"a","sk":5}.' in done.stderr
    assert "line 3: invalid JSON" in done.stderr
    assert "line 6: the key attribute 'pk' is missing" in done.stderr
    assert "line 7: the key attribute 'sk' must be of type N, not S" in done.stderr
    assert "line 9: the item is 410," in done.stderr and "400 KB" in done.stderr
    assert whole_table(conn, table) == before


def test_dry_run_from_the_library_counts_each_line_once(endpoint, tmp_path):
    conn = endpoint.connection()
    table = table_with_old_items(conn)
    before = whole_table(conn, table)
    result = import_table(conn, table, write_lines(tmp_path / "f.jsonl"), dry_run=True)
    assert (result.new, result.existing, result.repeated, result.failed) == (3, 2, 1, 4)
    assert result.lines == len(LINES) == result.new + result.existing + result.repeated + 4
    assert [e.line for e in result.errors] == INVALID
    assert [line for line, _key in result.existing_keys] == EXISTING
    assert result.written == 0
    assert whole_table(conn, table) == before


def test_a_dry_run_reads_a_read_only_data_source(endpoint, tmp_path):
    from dynaquery import ReadOnlyError

    table = table_with_old_items(endpoint.connection())
    path = write_lines(tmp_path / "f.jsonl")
    reader = Connection(**endpoint.settings(), read_only=True)
    assert import_table(reader, table, path, dry_run=True).existing == 2
    with pytest.raises(ReadOnlyError):
        import_table(reader, table, path)


def test_a_dry_run_counts_keys_repeated_across_lookups(endpoint, tmp_path):
    conn = endpoint.connection()
    table = "modes_" + uuid.uuid4().hex[:10]
    conn.run("CreateTable", pk_sk_table(table))
    for sk in range(10):
        conn.run("PutItem", {"TableName": table, "Item": {"pk": "d", "sk": sk}})
    path = tmp_path / "f.jsonl"  # sk 0..1199, then 0..49 again: past many lookups of 100 keys
    sks = [*range(1200), *range(50)]
    path.write_text("".join(json.dumps({"pk": "d", "sk": sk}) + "\n" for sk in sks))
    result = import_table(conn, table, str(path), dry_run=True)
    assert (result.existing, result.new, result.repeated) == (20, 1190, 40)
    assert [line for line, _key in result.existing_keys] == [*range(1, 11), *range(1201, 1211)]
