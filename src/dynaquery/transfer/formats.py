"""The formats of a whole table's file (JSON lines, a JSON array, CSV) and how each is written."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

from .. import values
from ..errors import InputError

FORMATS = ("jsonl", "json", "csv")
EXPORT_FORMATS = (*FORMATS, "parquet")  # Parquet is written only (parquet.py), never imported

Progress = Callable[[int, "int | None"], None]  # (items done, total if known)


def format_of(
    path: str | os.PathLike | None, given: str | None = None, formats: tuple = FORMATS
) -> str:
    """The format given, else the file's extension, else JSON lines; one of `formats`."""
    suffix = Path(str(path)).suffix.lower().lstrip(".") if path else ""
    if given or suffix == "parquet":
        chosen = given or suffix
        if chosen not in formats:
            written_only = " (Parquet is written by export only)" if chosen == "parquet" else ""
            raise InputError(
                f"Unknown format {chosen!r}{written_only}: use one of {', '.join(formats)}."
            )
        return chosen
    return {"json": "json", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "jsonl")


class Writer:
    """Turns pages of typed items into the output format's bytes.

    `body` runs on the scanning threads (one at a time); the rest on the thread that writes."""

    def __init__(self, fmt: str, typed: bool, columns: list[str] | None):
        self.format = fmt
        self.typed = typed
        self.columns = columns
        self.lossy = 0
        self.dropped: dict[str, None] = {}
        self.dropped_items = 0

    def body(self, items: list[dict]) -> bytes:
        """Items as the format writes them, each with its separator (see page)."""
        if not items:
            return b""
        if self.format != "csv":
            separator = "\n" if self.format == "jsonl" else ",\n"
            if self.typed:
                return self._typed_lines(items, separator)
            lossy: list[int] = []
            text = values.items_jsonl(items, separator, lossy)
            self.lossy += lossy[0]
            return text
        if self.columns is None:  # CSV: the first page's attributes
            self.columns = list(dict.fromkeys(k for item in items for k in item))
        return self._csv_rows(values.items_to_plain(items))

    def page(self, chunks: list[bytes]) -> bytes:
        """A page's bodies as one piece (in a JSON array, no comma after the last item)."""
        data = b"".join(chunks)
        return data[:-2] if self.format == "json" and data else data

    def start(self) -> bytes:
        """What opens a new output (at offset 0)."""
        return b"[\n" if self.format == "json" else b""

    def before(self, offset: int, count: int) -> bytes:
        """What goes before a page's body, given what the output holds."""
        if self.format == "json":
            return b",\n" if count else b""
        if self.format == "csv" and offset == 0:
            return self.csv_header()
        return b""

    def end(self, offset: int) -> bytes:
        if self.format == "json":
            return b"\n]\n"
        if self.format == "csv" and offset == 0 and self.columns:
            return self.csv_header()  # no item: the header alone
        return b""

    def csv_header(self) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.columns or [])
        return buffer.getvalue().encode("utf-8")

    @staticmethod
    def _typed_lines(items: list[dict], separator: str) -> bytes:
        return values.typed_json_items(items, b"", separator.encode(), b"")

    def _csv_rows(self, rows: list[dict]) -> bytes:
        from ..results import cell

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = self.columns
        known = set(columns)
        for row in rows:
            if len(row) > len(known) or any(k not in known for k in row):
                self.dropped_items += 1
                self.dropped.update(dict.fromkeys(k for k in row if k not in known))
            writer.writerow([cell(row.get(c)) for c in columns])
        return buffer.getvalue().encode("utf-8")


def projection_columns(projection: str, names: dict | None) -> list[str]:
    columns = []
    for part in projection.split(","):
        first = part.strip().split(".")[0].split("[")[0].strip()
        column = (names or {}).get(first, first)
        if column and column not in columns:
            columns.append(column)
    return columns
