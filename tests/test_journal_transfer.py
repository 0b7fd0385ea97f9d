"""The journal of imports and copies (journal.Written, Workspace.record_transfer), against DynamoDB
Local through the command: each is a run in the history with its count, its keys journaled;
with the data source's journal on, `undo RUN` deletes the items it wrote (and, for an overwrite,
puts back those it replaced), leaving alone one changed since; with the journal off, or past
what the journal keeps, undo says why not."""

from __future__ import annotations

import json
import uuid

import pytest

from dynaquery import journal

from support import dynaquery, journal_workspace, pk_sk_table

BIG = "12345678901234567890123456789012345678"


@pytest.fixture
def ws(tmp_path, monkeypatch, dynamodb_local):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNAQUERY_DATABASE_URL", raising=False)
    workspace = journal_workspace(tmp_path, dynamodb_local.endpoint_url, "jt_")
    yield workspace
    workspace.close()


def cli(ws, *args: str):
    return dynaquery(*args, env=ws.env)


def put(ws, sk: int, v: str, table: str | None = None) -> None:
    item = {"pk": {"S": "a"}, "sk": {"N": str(sk)}, "v": {"S": v}}
    ws.dynamodb.put_item(TableName=table or ws.table, Item=item)


def stored(ws, table: str | None = None) -> dict:
    """Every item of the table by sk, typed as botocore parses it."""
    pages = ws.dynamodb.get_paginator("scan").paginate(
        TableName=table or ws.table, ConsistentRead=True
    )
    return {int(item["sk"]["N"]): item for page in pages for item in page["Items"]}


def import_file(ws, tmp_path, lines: list[dict], *args: str):
    path = tmp_path / f"items-{uuid.uuid4().hex[:6]}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return cli(ws, "import", ws.table, str(path), *args)


def last_run(ws) -> dict:
    listed = cli(ws, "history", "--json", "-n", "1")
    assert listed.code == 0, listed.stderr
    return json.loads(listed.stdout)[0]


NEW = [
    {"pk": "a", "sk": 3, "v": "three"},
    {
        "pk": "a",
        "sk": 4,
        "v": {"SS": ["x", "y"]},
        "big": {"N": BIG},
        "blob": {"B": "AP9iaW4="},
    },
    {"pk": "a", "sk": 5, "v": "five"},
]


def test_an_import_into_a_data_source_is_a_run_and_undo_deletes_exactly_its_items(ws, tmp_path):
    put(ws, 1, "old")
    put(ws, 2, "old")
    done = import_file(
        ws, tmp_path, [{"pk": "a", "sk": 1, "v": "new"}, *NEW], "-d", "on", "--mode",
        "skip-existing",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["operation"] == "Import" and run["target"] == f"table {ws.table}"
    assert run["item_count"] == 3 and run["outcome"] == "ok" and run["origin"] == "cli"
    assert run["datasource"] == "on" and run["journal"] == "undoable"
    listed = cli(ws, "history", "--operation", "import", "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [run["id"]]
    (entry,) = ws.journal_of(run["id"])
    assert sorted(int(key["sk"]["N"]) for key in entry["keys"]) == [3, 4, 5]
    assert {"pk": {"S": "a"}, "sk": {"N": "3"}} in entry["keys"]  # typed
    assert all(list(key) == ["pk", "sk"] for key in entry["keys"])  # the partition key first
    assert "3 written, 1 skipped" in entry["note"] and entry["images"] is True
    assert sorted(stored(ws)) == [1, 2, 3, 4, 5]
    undone = cli(ws, "undo", str(run["id"]), "--yes", "--json")
    assert undone.code == 0, undone.stderr
    assert json.loads(undone.stdout)["restored"] == 3
    left = stored(ws)
    assert sorted(left) == [1, 2] and left[1]["v"] == {"S": "old"}  # the skipped item untouched
    assert last_run(ws)["journal"] is not None  # undo's own writes are runs
    again = cli(ws, "undo", str(run["id"]), "--yes")
    assert again.code == 2 and "undone already" in again.stderr


def test_an_item_changed_after_the_import_is_not_deleted_and_is_shown(ws, tmp_path):
    done = import_file(ws, tmp_path, NEW, "-d", "on", "--mode", "fail-existing")
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["item_count"] == 3 and run["journal"] == "undoable"
    put(ws, 5, "changed by someone")
    undone = cli(ws, "undo", str(run["id"]), "--yes")
    assert undone.code == 1, undone.stderr
    assert "2 item(s) put back" in undone.stderr
    assert "Not put back (changed since the run)" in undone.stderr
    assert '"changed by someone"' in undone.stderr
    assert stored(ws) == {5: {"pk": {"S": "a"}, "sk": {"N": "5"}, "v": {"S": "changed by someone"}}}


def test_with_the_journal_off_the_keys_are_journaled_and_undo_says_why_not(ws, tmp_path):
    done = import_file(ws, tmp_path, NEW, "--datasource", "off", "--mode", "skip-existing")
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["item_count"] == 3 and run["journal"] == "keys" and run["datasource"] == "off"
    (entry,) = ws.journal_of(run["id"])
    assert len(entry["keys"]) == 3 and entry["images"] is False
    refused = cli(ws, "undo", str(run["id"]), "--yes")
    assert refused.code == 2
    assert "cannot be undone: the journal of data source 'off' was off" in refused.stderr
    assert "datasource edit off --journal" in refused.stderr
    assert sorted(stored(ws)) == [3, 4, 5]


def test_an_overwrite_import_puts_back_what_it_replaced(ws, tmp_path):
    put(ws, 1, "old")
    lines = [
        {"pk": "a", "sk": 1, "v": "replaced"},
        {"pk": "a", "sk": 9, "v": "first"},
        {"pk": "a", "sk": 9, "v": "last"},  # the last line for a key wins
    ]
    done = import_file(ws, tmp_path, lines, "-d", "on")
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["item_count"] == 3 and run["journal"] == "undoable"
    assert stored(ws)[9]["v"] == {"S": "last"}
    undone = cli(ws, "undo", str(run["id"]), "--yes", "--json")
    assert undone.code == 0, undone.stderr
    assert json.loads(undone.stdout)["restored"] == 2  # each key once
    assert stored(ws) == {1: {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "old"}}}


def test_an_overwrite_import_with_the_journal_off_is_refused_saying_why(ws, tmp_path):
    put(ws, 1, "old")
    done = import_file(ws, tmp_path, [{"pk": "a", "sk": 1, "v": "replaced"}], "-d", "off")
    assert done.code == 0, done.stderr
    refused = cli(ws, "undo", str(last_run(ws)["id"]), "--yes")
    assert refused.code == 2 and "was off when it ran" in refused.stderr
    assert stored(ws)[1]["v"] == {"S": "replaced"}


def test_past_the_keys_the_journal_keeps_undo_says_so(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "KEYS_KEPT", 2)
    done = import_file(ws, tmp_path, NEW, "-d", "on", "--mode", "skip-existing")
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["item_count"] == 3 and run["journal"] == "keys"
    (entry,) = ws.journal_of(run["id"])
    assert len(entry["keys"]) == 2
    refused = cli(ws, "undo", str(run["id"]), "--yes")
    assert refused.code == 2
    assert "it wrote 3 items, and the journal keeps the keys of 2 at most" in refused.stderr


def test_a_copy_into_a_data_source_is_journaled_and_undone(ws):
    source = "jt_src_" + uuid.uuid4().hex[:8]
    ws.run("on", "CreateTable", pk_sk_table(source))
    for sk in (1, 2, 3):
        put(ws, sk, f"copied {sk}", table=source)
    put(ws, 1, "there before")
    done = cli(ws, "copy", f"on:{source}", f"on:{ws.table}", "--mode", "skip-existing")
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["operation"] == "Copy" and run["item_count"] == 2
    assert run["outcome"] == "ok" and run["journal"] == "undoable"
    (entry,) = ws.journal_of(run["id"])
    assert entry["note"].startswith(f"from on:{source}: 2 written, 1 skipped")
    undone = cli(ws, "undo", str(run["id"]), "--yes")
    assert undone.code == 0, undone.stderr
    assert stored(ws) == {1: {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "there before"}}}
    assert sorted(stored(ws, source)) == [1, 2, 3]  # the source is not touched


def test_with_the_connection_flags_alone_nothing_is_recorded(ws, tmp_path):
    done = import_file(ws, tmp_path, NEW, *ws.endpoint.flags)
    assert done.code == 0, done.stderr
    assert last_run(ws)["operation"] == "CreateTable"
    assert sorted(stored(ws)) == [3, 4, 5]


def test_a_stopped_import_is_an_error_run_whose_items_can_be_undone(ws, tmp_path):
    lines = [*NEW, {"sk": 6, "v": "no partition key"}]
    done = import_file(ws, tmp_path, lines, "-d", "on", "--mode", "skip-existing", "--strict")
    assert done.code == 2, done.stderr
    run = last_run(ws)
    assert run["operation"] == "Import" and run["outcome"] == "error"
    assert "strict" in run["error"]
    assert run["item_count"] == len(stored(ws)) and run["journal"] == "undoable"
    undone = cli(ws, "undo", str(run["id"]), "--yes")
    assert undone.code == 0, undone.stderr
    assert stored(ws) == {}


def test_past_the_items_the_journal_keeps_undo_says_so(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "IMAGE_BYTES_KEPT", 100)
    done = import_file(ws, tmp_path, NEW, "-d", "on")
    assert done.code == 0, done.stderr
    run = last_run(ws)
    assert run["item_count"] == 3 and run["journal"] == "keys"
    refused = cli(ws, "undo", str(run["id"]), "--yes")
    assert refused.code == 2 and "its items came to more than the" in refused.stderr
    assert len(ws.journal_of(run["id"])[0]["keys"]) == 3
