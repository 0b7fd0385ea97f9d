"""The journal of writes, and undo.

Every write run through dynaquery (the command, the API, the page: they all run through
Workspace._run) is journaled beside its run in the history: who, when, the data source, the
operation, the tables and the keys written (written.py tells them from the request). A data
source whose journal is on (`datasource add|edit --journal`; off by default, since it keeps
data) also has each written item read just before the write and just after it, in the same run
(BatchGetItem, strongly consistent); those images are sealed like secrets (encryption.py) and
kept IMAGE_DAYS days, then dropped (the keys stay).

`undo RUN` puts every item of the run back as it was before, each with the condition that it is
still what the run left (items.py's conditional requests, as the item editor saves): an item
someone changed since is left alone, and reported with both versions. Undo's own writes are
runs, journaled in turn, so an undo can be undone.

Not journaled with images: what a call does outside its keys (a table operation, a PartiQL
statement whose key is not spelled out: its keys are "unknown", and the note says why).

Imports and copies (`dynaquery import --datasource NAME`, `dynaquery copy ... NAME:TABLE`) write
through batches of their own, not through _run; their writers tell a `Written` each item that
landed, and the command records one run ("Import" or "Copy", target "table NAME", item_count the
items written; ok, incomplete when items failed, error when it stopped) with one entry: the typed
keys written (the first KEYS_KEPT) and the counts in its note (the copy's source, written,
skipped, failed, the mode). With the data source's journal on, the entry also keeps each item as
written (sealed, IMAGE_BYTES_KEPT of JSON at most) and what undo needs before it:
- skip-existing: every item written was new (a conditional put), so "before" is absent; so with
  fail-existing (every key was looked up first; a resumed copy excepted), and undo deletes each
  item on the condition that it is still what the import wrote;
- overwrite (and a resumed copy's fail-existing): each batch's items are read just before the
  batch is written (BatchGetItem, consistent, in the worker that owns those keys, so a key read
  twice keeps its first reading); undo puts them back, or deletes those that were not there.
Past KEYS_KEPT items or IMAGE_BYTES_KEPT, or with the journal off, the entry keeps keys only and
undo refuses, saying which. A key written twice (the last line wins) is undone once: its first
before, its last after. With the connection flags alone (no saved data source) nothing is
recorded, as `run` records nothing then. Imports through S3 (`--via`: DynamoDB's ImportTable
makes a new table) are not journaled.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from . import items, store
from .errors import InputError, KeysUnknown, NotFound, ServiceError
from .values import typed_json_default
from .written import written_items

IMAGE_DAYS = 30  # item images are kept this long; the keys stay with the history
_BATCH_GET = 100  # keys per BatchGetItem
_READ_SECONDS = 30  # how long unprocessed keys are retried


@dataclass
class Plan:
    """What a write run is journaled as, made before it is sent."""

    tables: list[str]
    keys: list[tuple[str, dict]] | None  # None: cannot be told (note says why)
    note: str | None = None
    before: list[dict | None] | None = None  # the items as they were, when images are kept


def plan(connection, request, key_names, images: bool) -> Plan | None:
    """The journal's plan for `request`, None for a request that only reads. `key_names(table)`
    gives a table's key attribute names; with `images`, the items are read now (before)."""
    operation = request.operation
    if operation.reads_only(request.params):
        return None
    target = operation.target(request.params)
    tables = target.split(" ", 1)[1].split(", ") if target.startswith("table") else []
    try:
        keys = written_items(request.name, request.params, key_names)
    except KeysUnknown as unknown:
        return Plan(tables, None, unknown.message)
    tables = sorted({t for t, _ in keys} | set(tables))
    if not images or not keys:
        return Plan(tables, keys)
    return Plan(tables, keys, before=read_items(connection, keys))


def read_items(connection, keys: list[tuple[str, dict]]) -> list[dict | None]:
    """The items of `keys` as they are now (None where there is none), in the same order."""
    found: dict[tuple, dict] = {}
    deadline = time.monotonic() + _READ_SECONDS
    for start in range(0, len(keys), _BATCH_GET):
        pending: dict[str, dict] = {}
        for table, key in keys[start : start + _BATCH_GET]:
            pending.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        while pending:
            answer = connection.call("BatchGetItem", {"RequestItems": pending})
            for table, got in answer.get("Responses", {}).items():
                names = key_names_of(keys, table)
                for item in got:
                    found[(table, items.key_identity({n: item[n] for n in names}))] = item
            pending = answer.get("UnprocessedKeys") or {}
            if pending and time.monotonic() > deadline:
                raise ServiceError(
                    "ProvisionedThroughputExceededException",
                    "The journal could not read the items before the write in time; nothing "
                    "was written.",
                )
    return [found.get((table, items.key_identity(key))) for table, key in keys]


def key_names_of(keys: list[tuple[str, dict]], table: str) -> list[str]:
    return next(list(key) for t, key in keys if t == table)


def entry(plan: Plan, after: list | None, *, who: str, ds, operation: str, seal) -> dict:
    """The journal's row for a run that ended (its `run_id` is set as the run is recorded);
    `seal(text, context)` seals the images."""
    entry_id = str(uuid.uuid4())
    images = None
    if plan.keys and plan.before is not None and after is not None:
        rows = [[t, k, b, a] for (t, k), b, a in zip(plan.keys, plan.before, after)]
        images = seal(_dumps(rows), f"journal/{entry_id}")
    return _entry(
        entry_id,
        who,
        ds,
        operation,
        tables=plan.tables,
        keys=None if plan.keys is None else _dumps([[t, k] for t, k in plan.keys]),
        note=plan.note,
        images=images,
    )


def _entry(entry_id, who, ds, operation, *, tables, keys, note, images) -> dict:
    return {
        "id": entry_id,
        "run_id": None,
        "at": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "who": who[:200],
        "datasource_id": ds.id,
        "datasource_name": ds.name,
        "operation": operation,
        "tables": json.dumps(tables),
        "keys": keys,
        "note": note,
        "images": images,
    }


def write_entry(db: sa.Connection, row: dict) -> None:
    db.execute(store.journal.insert().values(**row))
    cutoff = datetime.now(UTC) - timedelta(days=IMAGE_DAYS)
    stale = cutoff.isoformat(timespec="microseconds").replace("+00:00", "Z")
    db.execute(
        store.journal.update()
        .where(store.journal.c.at < stale, store.journal.c.images.is_not(None))
        .values(images=None, note="its items were dropped after %d days" % IMAGE_DAYS)
    )


def entries_of(db: sa.Connection, run_id: int) -> list:
    rows = db.execute(sa.select(store.journal).where(store.journal.c.run_id == run_id)).all()
    if not rows:
        raise NotFound(
            f"Run {run_id} wrote nothing through dynaquery that the journal kept (see "
            "`dynaquery history --json` for the runs' ids)."
        )
    return rows


def images_of(row, open_sealed) -> list[tuple[str, dict, Any, Any]]:
    """The (table, key, before, after) of a journal row, or InputError saying why there are
    none."""
    if row.undone_at is not None:
        raise InputError(f"Run {row.run_id} was undone already, at {row.undone_at}.")
    if row.keys is None:
        raise InputError(
            f"Run {row.run_id} ({row.operation}) cannot be undone: {row.note or 'its keys are unknown'}."
        )
    if row.images is None:
        keys = json.loads(row.keys)
        shown = ", ".join(json.dumps(k) for _, k in keys[:3]) + (" ..." if len(keys) > 3 else "")
        if row.operation in TRANSFERS:
            raise InputError(_transfer_refusal(row, len(keys), shown))
        why = row.note or (
            f"the journal of data source {row.datasource_name!r} was off when it ran"
        )
        raise InputError(
            f"Run {row.run_id} ({row.operation}) cannot be undone: {why}. The journal kept "
            f"the {len(keys)} keys it wrote ({shown}) but not the items before. Turn it on with "
            f"`dynaquery datasource edit {row.datasource_name} --journal` for later runs."
        )
    rows = json.loads(open_sealed(row.images, f"journal/{row.id}"))
    return [(table, *(_typed(v) for v in rest)) for table, *rest in rows]


def _dumps(value: Any) -> str:
    return json.dumps(value, default=typed_json_default)


def _typed(item: dict | None) -> dict | None:
    """An item (or key) as the journal keeps it (binary in base64) typed again, binary as bytes."""
    return None if item is None else items.typed_image(item, "journaled item")


def undo_request(table: str, key: dict, before, after) -> tuple[str, dict] | None:
    """The request that puts the item of `key` back to `before`, on the condition that it is
    still `after` (what the run left); None when the run left it as it was."""
    names = list(key)  # the partition key first, as written.py keeps them
    if before is None and after is None:
        return None
    if after is None:  # the run deleted it: put it back, unless one is there again
        return items.create_request(table, names, before)
    if before is None:  # the run made it: delete it, unless changed since
        return _delete_if_unchanged(table, key, after)
    return items.save_request(table, names, after, before)


def _delete_if_unchanged(table: str, key: dict, after: dict) -> tuple[str, dict]:
    expression = items.Expression()
    condition = expression.condition(after, {}, list(after))
    if items.too_long(condition):  # a very large item: that it is there still
        expression = items.Expression()
        condition = expression.condition(after, {}, [], exists=next(iter(key)))
    params = {
        "TableName": table,
        "Key": key,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": expression.names,
    }
    if expression.values:
        params["ExpressionAttributeValues"] = expression.values
    return "DeleteItem", params


# -- imports and copies ----------------------------------------------------------------------

KEYS_KEPT = 100_000  # keys an import's or a copy's entry keeps; beyond, it counts them only
IMAGE_BYTES_KEPT = 64 << 20  # the items (as JSON) an import's or a copy's entry keeps, at most
TRANSFERS = ("Import", "Copy")


class Written:
    """What an import or a copy wrote into one table, told by its writers as batches land (they
    run on several threads): the keys (the first KEYS_KEPT) and how many; with `images`, each
    item written and, where it is not known to be new, the item before it (`read_before`: the
    writer reads it with BatchGetItem just before the batch is written). `mode` is the import's:
    skip-existing writes only new items; so does fail-existing, unless `resumed` (a resumed copy
    writes again items the interrupted one may have written)."""

    def __init__(self, table: str, mode: str, *, images: bool, resumed: bool = False):
        self.table, self.mode, self.images = table, mode, images
        self.absent_before = mode == "skip-existing" or (mode == "fail-existing" and not resumed)
        self.read_before = images and not self.absent_before
        self.key_names: list[str] = []
        self.count = 0
        self.keys: list[dict] = []
        self.afters: list[tuple[str, dict, str]] = []  # (key text, key, the item as JSON)
        self.befores: dict[str, str] = {}  # key text: the item before as JSON ("null": none)
        self.image_bytes = 0
        self.lock = threading.Lock()

    def begin(self, key_names: list[str]) -> None:
        """The table's key attribute names, partition key first (the writer knows them)."""
        self.key_names = key_names

    def add(self, entries: list[tuple[Any, dict]]) -> None:
        """(tag, item) pairs that landed: their keys, and their items when images are kept."""
        names = self.key_names
        keys = [{name: item[name] for name in names} for _tag, item in entries]
        afters = []
        if self.images and self.image_bytes <= IMAGE_BYTES_KEPT:  # past it, none are kept
            afters = [(_key_text(k), k, _dumps(item)) for k, (_tag, item) in zip(keys, entries)]
        with self.lock:
            self.count += len(entries)
            room = KEYS_KEPT - len(self.keys)
            if room > 0:
                self.keys += keys[:room]
            if self.images and self.image_bytes <= IMAGE_BYTES_KEPT:
                self.afters += afters
                self.image_bytes += sum(len(text) for _, _, text in afters)

    def before(self, items: list[dict], found: dict[str, dict]) -> None:
        """The items of a batch as they are just before it is written (`found`: by key text);
        the first reading of a key is its before (a later one would see this run's write)."""
        texts = [(_key_text({n: item[n] for n in self.key_names}), item) for item in items]
        with self.lock:
            for text, _item in texts:
                if text not in self.befores and self.image_bytes <= IMAGE_BYTES_KEPT:
                    image = _dumps(found.get(text))
                    self.befores[text] = image
                    self.image_bytes += len(image)

    def undoable_why_not(self) -> str | None:
        """Why this entry keeps no items to undo with (None: it keeps them)."""
        if self.count > KEYS_KEPT:
            return (
                f"it wrote {self.count:,} items, and the journal keeps the keys of "
                f"{KEYS_KEPT:,} at most (the first ones are kept)"
            )
        if not self.images:
            return None  # the journal was off: images_of says so
        if self.image_bytes > IMAGE_BYTES_KEPT:
            return f"its items came to more than the {IMAGE_BYTES_KEPT >> 20} MiB the journal keeps"
        return None

    def rows_json(self) -> str | None:
        """[[table, key, before, after]...] as JSON, a key once (its first before, its last
        after), or None when the items are not kept."""
        if not self.images or self.undoable_why_not() is not None:
            return None
        last = {text: (key, after) for text, key, after in self.afters}
        table = json.dumps(self.table)
        rows = []
        for text, (key, after) in last.items():  # in the order each key was first written
            before = "null" if self.absent_before else self.befores.get(text)
            if before is None:  # its before was never read: the entry cannot undo
                return None
            rows.append(f"[{table},{_dumps(key)},{before},{after}]")
        return "[" + ",".join(rows) + "]"


def _key_text(key: dict) -> str:
    """A key as one text whatever its spelling (binary as bytes or base64, numbers 1 or 1.0)."""
    from .transfer.existing import canonical

    return canonical(key)


def _transfer_refusal(row, kept: int, shown: str) -> str:
    """Why an import or a copy cannot be undone: the reason after its counts in the note, else
    its data source's journal was off."""
    why = (row.note or "").partition("; ")[2]
    hint = ""
    if not why:
        why = f"the journal of data source {row.datasource_name!r} was off when it ran"
        hint = (
            f" Turn it on with `dynaquery datasource edit {row.datasource_name} --journal` for "
            "later runs."
        )
    return (
        f"Run {row.run_id} ({row.operation}) cannot be undone: {why}. The journal kept the keys "
        f"of {kept:,} items it wrote ({shown}) but not the items, which undo needs to delete or "
        f"put back only what is still as the {row.operation.lower()} left it.{hint}"
    )


def transfer_entry(written: Written, *, who: str, ds, operation: str, counts: str, seal) -> dict:
    """The journal's row for an import or a copy that wrote into `ds` (run_id set as the run is
    recorded): its keys and `counts`, and its items sealed when they are kept."""
    entry_id = str(uuid.uuid4())
    rows = written.rows_json()
    why = written.undoable_why_not()
    if written.images and why is None and rows is None:
        why = "the items before some of its writes could not be read"
    return _entry(
        entry_id,
        who,
        ds,
        operation,
        tables=[written.table],
        keys=_dumps([[written.table, key] for key in written.keys]),
        note=counts + (f"; {why}" if why else ""),
        images=None if rows is None else seal(rows, f"journal/{entry_id}"),
    )
