"""Export to Parquet: one row per item, one column per attribute, DynamoDB's types kept exactly.

The columns are the union of the items' attribute names, and a column's type depends on every
value it holds, which a scan knows only at its end. So the export scans once, turning each
ROW_GROUP items into an Arrow part spilled to a temporary directory (memory holds one part), then
writes the file from the parts, each cast to the final schema, one row group per part. The file is
written beside the output under a temporary name and renamed into place: an interrupted or failed
export leaves nothing half-written (and cannot be resumed: it starts over).

The rule, per column (`dynamodb_type` in each field's metadata says which; `encoding` says how a
value that is not native to Parquet is written):

- S -> string; B -> binary; BOOL -> bool.
- N -> decimal128(38, s), s the largest scale of the column, when every value fits it exactly;
  otherwise a string holding each number's exact text (encoding `number_text`).
- SS -> list of string; BS -> list of binary; NS -> list of decimal128(38, s) by the same rule as
  N, else list of the exact number texts (`number_text`). `dynamodb_type` says it is a set.
- M, L, NULL -> string: the value's typed JSON, `{"M": {...}}`, binary in base64 (encoding
  `typed_json`). NULL is written so because a Parquet null is what an item without the attribute
  has: `{"NULL":true}` keeps the two apart.
- A column whose values are of more than one type -> string, each value's typed JSON
  (`dynamodb_type` `mixed`, encoding `typed_json`).

An empty cell (Parquet null) always means the item has no such attribute. Key attributes come
first, then the others by name.
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

from .. import values
from ..errors import InputError, ServiceError
from .scan import scan_pages, scan_params_of

if TYPE_CHECKING:
    from ..connection import Connection
    from .export import ExportResult

ROW_GROUP = 10_000  # items per row group (and per spilled part): what memory holds at once
PRECISION = 38  # decimal128's most digits, and DynamoDB's too
NATIVE = ("S", "N", "B", "BOOL", "SS", "NS", "BS")  # the types with a Parquet type of their own
INSTALL = "pip install 'dynaquery[parquet]'"


def require_pyarrow() -> Any:
    """pyarrow (and its parquet module), or an error saying how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise InputError(
            f"The Parquet format needs pyarrow, which is not installed: {INSTALL}"
        ) from None
    return pyarrow


def _typed_json(cells: list[dict | None]) -> list[str | None]:
    """Each typed value as its JSON text (None stays None), written by the codec in one go, each
    as the attribute of a one-attribute item (what the codec writes): `{"v":` and `}` are cut off.
    The texts hold no raw newline (JSON escapes it in strings), so one separates them."""
    present = [{"v": av} for av in cells if av is not None]
    if not present:
        return [None] * len(cells)
    written = values.typed_json_items(present, b"", b"", b"\n").decode("utf-8")
    texts = iter(written.split("\n"))
    return [None if av is None else next(texts)[5:-1] for av in cells]


def _binary(value: str | bytes) -> bytes:
    """A B value as bytes: the wire carries it in base64, botocore's parsing gives bytes."""
    return base64.b64decode(value) if isinstance(value, str) else value


class _Numbers:
    """What a column's numbers need: the most digits after the point, and before it."""

    def __init__(self) -> None:
        self.scale = 0
        self.digits = 0

    def see(self, texts: Iterable[str]) -> None:
        scale, digits = self.scale, self.digits
        for text in texts:
            if "E" in text or "e" in text:
                number = Decimal(text)
                scale = max(scale, -number.as_tuple().exponent)
                digits = max(digits, number.adjusted() + 1)
            else:  # DynamoDB's usual form, read faster than by Decimal
                whole, _, fraction = text.partition(".")
                scale = max(scale, len(fraction))
                digits = max(digits, len(whole.lstrip("-0")))
        self.scale, self.digits = scale, digits

    def fits(self) -> bool:
        """Whether decimal128(38, scale) holds every number seen, digit for digit."""
        return self.scale + self.digits <= PRECISION


class ParquetBuilder:
    """Typed items in, a Parquet file out: add() the items as they come (spilled to `directory`
    ROW_GROUP at a time), then write() the file. Use as a context manager: the spilled parts are
    removed at the end, whatever happens."""

    def __init__(self, directory: str | os.PathLike | None = None, row_group: int | None = None):
        self.pa = require_pyarrow()
        self.row_group = row_group or ROW_GROUP
        self.directory = Path(tempfile.mkdtemp(prefix=".dynaquery-parquet-", dir=directory))
        self.rows: list[dict] = []
        self.parts: list[tuple[Path, dict[str, str], int]] = []  # file, column kinds, rows
        self.tags: dict[str, set[str]] = {}  # every column's DynamoDB types
        self.numbers: dict[str, _Numbers] = {}
        self.items = 0

    def __enter__(self) -> ParquetBuilder:
        return self

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def add(self, items: Iterable[dict]) -> None:
        items = iter(items)
        while more := list(itertools.islice(items, self.row_group - len(self.rows))):
            self.rows += more
            if len(self.rows) >= self.row_group:
                self._spill()

    def _spill(self) -> None:
        """The rows held as one Arrow part on disk, each column as its values' type allows."""
        rows, self.rows = self.rows, []
        if not rows:
            return
        names = sorted(set().union(*rows))  # each dict's keys, gathered in C
        kinds, arrays = {}, []
        for name in names:
            cells = [row.get(name) for row in rows]
            tags = set().union(*filter(None, cells))  # each value's one key: its type
            self.tags.setdefault(name, set()).update(tags)
            kinds[name] = tags.pop() if len(tags) == 1 else "mixed"
            arrays.append(self._part_array(name, kinds[name], cells))
        part = self.pa.Table.from_arrays(arrays, names=names)
        path = self.directory / f"part-{len(self.parts):06d}.arrow"
        with self.pa.ipc.new_file(path, part.schema) as sink:
            sink.write_table(part)
        self.parts.append((path, kinds, len(rows)))
        self.items += len(rows)

    def _part_array(self, name: str, kind: str, cells: list[dict | None]) -> Any:
        pa = self.pa
        if kind not in NATIVE:
            return pa.array(_typed_json(cells), pa.string())
        inner = [None if av is None else av[kind] for av in cells]
        if kind in ("N", "NS"):
            numbers = self.numbers.setdefault(name, _Numbers())
            present = [v for v in inner if v is not None]
            numbers.see(present if kind == "N" else itertools.chain.from_iterable(present))
        if kind == "B":
            inner = [None if v is None else _binary(v) for v in inner]
        elif kind == "BS":
            inner = [None if v is None else [_binary(b) for b in v] for v in inner]
        return pa.array(inner, self._part_type(kind))

    def _part_type(self, kind: str) -> Any:
        pa = self.pa
        scalar = {"S": pa.string(), "N": pa.string(), "B": pa.binary(), "BOOL": pa.bool_()}
        if kind in scalar:
            return scalar[kind]
        return pa.list_(pa.binary() if kind == "BS" else pa.string())

    def field(self, name: str) -> Any:
        """The column's final field: its type and metadata, from every value seen."""
        pa = self.pa
        tags = self.tags[name]
        tag = next(iter(tags)) if len(tags) == 1 else "mixed"
        meta = {"dynamodb_type": tag}
        if tag in ("N", "NS"):
            numbers = self.numbers.get(name, _Numbers())
            scalar = pa.decimal128(PRECISION, numbers.scale) if numbers.fits() else pa.string()
            if not numbers.fits():
                meta["encoding"] = "number_text"
            kind = scalar if tag == "N" else pa.list_(scalar)
        elif tag in NATIVE:
            kind = self._part_type(tag)
        else:
            kind = pa.string()
            meta["encoding"] = "typed_json"
        return pa.field(name, kind, nullable=True, metadata=meta)

    def schema(self, keys: dict[str, str] | None = None, metadata: dict | None = None) -> Any:
        """Key attributes first, then the others by name; with no item at all, the key
        attributes alone, typed as the key says (a file has at least one column)."""
        self._spill()
        keys = keys or {}
        if not self.tags:
            self.tags = {name: {tag} for name, tag in keys.items()}
        names = [k for k in keys if k in self.tags] + sorted(n for n in self.tags if n not in keys)
        return self.pa.schema([self.field(n) for n in names], metadata=metadata)

    def write(self, sink: str | IO[bytes], schema: Any) -> Iterator[int]:
        """Write the file to `sink` (a path or a binary stream), a row group per part; yields
        after each (so a stream can be sent as it is written)."""
        import pyarrow.parquet as pq

        with pq.ParquetWriter(sink, schema) as writer:
            for path, kinds, rows in self.parts:
                with self.pa.ipc.open_file(path) as reader:
                    part = reader.read_all()
                arrays = [self._cast(part, kinds, f, rows) for f in schema]
                writer.write_table(self.pa.Table.from_arrays(arrays, schema=schema), rows)
                del part, arrays
                path.unlink()
                yield rows

    def _cast(self, part: Any, kinds: dict[str, str], field: Any, rows: int) -> Any:
        """A part's column as the final field has it."""
        if field.name not in kinds:
            return self.pa.nulls(rows, field.type)
        column = part.column(field.name).combine_chunks()
        kind = kinds[field.name]
        if field.metadata[b"dynamodb_type"] == b"mixed" and kind in NATIVE:
            cells = [None if v is None else {kind: v} for v in column.to_pylist()]
            return self.pa.array(_typed_json(cells), self.pa.string())
        if column.type != field.type:  # numbers' texts to decimals, which fit: checked
            import pyarrow.compute as pc

            return pc.cast(column, field.type)
        return column


def write_parquet(
    items: Iterable[dict],
    output: str | os.PathLike | IO[bytes],
    *,
    keys: dict[str, str] | None = None,
    row_group: int | None = None,
    metadata: dict | None = None,
) -> int:
    """Write typed items (as DynamoDB's JSON carries them, or as botocore parses them) to a
    Parquet file or binary stream; returns how many. `keys`: the key attributes and their types
    ({"pk": "S"}), written first. A path is written whole or not at all."""
    with _Target(output) as target, ParquetBuilder(target.directory, row_group) as builder:
        builder.add(items)
        for _ in builder.write(target.sink, builder.schema(keys, metadata)):
            pass
        return builder.items


class _Target:
    """Where the file goes: a temporary file beside the output, renamed into place on success
    (removed otherwise), or the stream as given."""

    def __init__(self, output: str | os.PathLike | IO[bytes]):
        require_pyarrow()
        self.output = output
        self.path = Path(output) if isinstance(output, (str, os.PathLike)) else None
        if self.path is None:
            self.directory, self.sink = None, output
            return
        self.directory = self.path.resolve().parent
        # Not mkstemp's: its file is private (0600), the output should have the umask's mode.
        self.sink = str(self.directory / f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")

    def __enter__(self) -> _Target:
        return self

    def __exit__(self, error_type: Any, *exc: Any) -> None:
        if self.path is None:
            return
        if error_type is None:
            os.replace(self.sink, self.path)
        else:
            Path(self.sink).unlink(missing_ok=True)


def _describe(connection: Connection, table: str, index: str | None) -> tuple[int | None, dict]:
    """The item count (for the progress bar; None if it cannot be read) and the key attributes
    with their types, of the table or the index scanned."""
    try:
        found = connection.call("DescribeTable", {"TableName": table})["Table"]
    except ServiceError as error:
        if error.code == "ResourceNotFoundException":
            raise
        return None, {}
    where = found
    for entry in found.get("GlobalSecondaryIndexes", []) + found.get("LocalSecondaryIndexes", []):
        if index and entry.get("IndexName") == index:
            where = entry
    types = {d["AttributeName"]: d["AttributeType"] for d in found.get("AttributeDefinitions", [])}
    keys = {k["AttributeName"]: types.get(k["AttributeName"], "S") for k in where["KeySchema"]}
    count = where.get("ItemCount") if index is None or where is not found else None
    return count, keys


def _scan_items(
    connection: Connection, params: dict, segments: int, result: Any, progress, total
) -> Iterator[dict]:
    """The scan's typed items as they come, counted into `result` (items, scanned, pages)."""
    pages = scan_pages(
        connection, params, segments, [None] * segments, list, itertools.chain.from_iterable
    )
    try:
        for _segment, items, n, _key, scanned in pages:
            yield from items
            result.items, result.scanned, result.pages = (
                result.items + n,
                result.scanned + scanned,
                result.pages + 1,
            )
            if progress:
                progress(result.scanned, total)
    finally:
        pages.close()


def export_parquet(
    connection: Connection,
    table: str,
    output: str | os.PathLike | IO[bytes],
    result: ExportResult,
    *,
    scan: dict,
    progress: Any = None,
    resume: bool = False,
    columns: list[str] | None = None,
) -> ExportResult:
    """export_table's Parquet export (see its options; `scan` holds Scan's), counted into
    `result` (its segments are the scan's)."""
    require_pyarrow()
    _check(result.segments, resume, columns)
    params = scan_params_of(table, scan)
    total, keys = _describe(connection, table, scan.get("index"))
    started = time.perf_counter()
    items = _scan_items(connection, params, result.segments, result, progress, total)
    try:
        write_parquet(items, output, keys=keys, metadata={"dynamodb_table": table})
    finally:
        items.close()  # the scan's threads stop now, not when the error is forgotten
    result.duration = time.perf_counter() - started
    return result


def iter_parquet(
    connection: Connection, table: str, *, segments: int, scan: dict
) -> Iterator[bytes]:
    """The Parquet export as byte chunks, for an HTTP response. The file's schema needs every
    item, so the first chunk comes once the whole table is scanned (spilled to a temporary
    directory meanwhile); then a chunk per row group."""
    require_pyarrow()
    _check(segments, False, None)
    params = scan_params_of(table, scan)
    _total, keys = _describe(connection, table, scan.get("index"))
    result = SimpleNamespace(items=0, scanned=0, pages=0)  # counted, and not told
    stream = _Chunks()
    with ParquetBuilder() as builder:
        items = _scan_items(connection, params, segments, result, None, None)
        try:
            builder.add(items)
        finally:
            items.close()
        schema = builder.schema(keys, {"dynamodb_table": table})
        for _ in builder.write(stream, schema):
            yield stream.take()
    yield stream.take()


class _Chunks:
    """A write-only stream that hands over what was written so far."""

    closed = False

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def _check(segments: int, resume: bool, columns: list[str] | None) -> None:
    if segments < 1:
        raise InputError("segments must be at least 1.")
    if resume:
        raise InputError(
            "A Parquet export cannot be resumed (its file is written whole at the end, so an "
            "interrupted one left nothing): start it over."
        )
    if columns:
        raise InputError(
            "columns are CSV's: a Parquet file has every attribute as a column (choose them "
            "with a projection)."
        )
