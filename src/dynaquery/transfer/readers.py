"""Reading a file's items as it goes: JSON lines, a JSON array or CSV, each bad line reported
with its number (and the rest read)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections.abc import Iterator
from typing import IO, Any

from ..errors import InputError
from ..parsing import exact_number

Row = tuple[int, Any, "str | None", bool]  # (line, value, what is wrong, may be too deep)

# DynamoDB refuses an item with a map or list inside 31 others (an attribute's levels: 32).
MAX_NESTING = 32
TOO_DEEP = f"nested too deeply: DynamoDB allows {MAX_NESTING} levels of nesting"
BOM = "\ufeff"
# Files are read with errors="surrogateescape": a byte that is not UTF-8 becomes one of these,
# so the line it is on can be reported, and the others read.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _parse_json(text: str) -> Any:
    return json.loads(text, parse_float=exact_number)


def _not_utf8(match: re.Match, where: str = "") -> str:
    return f"not UTF-8 text: the byte 0x{ord(match.group()) - 0xDC00:02X}" + (
        f" ({where})" if where else ""
    )


def _may_be_too_deep(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether the JSON text could hold a value nested too deeply: each level takes a bracket."""
    end = len(text) if end is None else end
    return text.count("{", start, end) + text.count("[", start, end) > MAX_NESTING


def _without_bom(stream: IO[str]) -> Iterator[str]:
    """The stream's lines, without a byte order mark at the start."""
    first = stream.readline()
    return itertools.chain([first[1:] if first.startswith(BOM) else first], stream)


def read_jsonl(stream: IO[str]) -> Iterator[Row]:
    """(line number, value, None, may be too deep) or (line number, None, what is wrong, False)
    for each line."""
    loads = json.JSONDecoder(parse_float=exact_number).decode
    for number, line in enumerate(_without_bom(stream), 1):
        if not line.strip():
            continue
        if not line.isascii() and (bad := _NOT_UTF8.search(line)):
            yield number, None, _not_utf8(bad, f"column {bad.start() + 1}"), False
            continue
        try:
            yield (
                number,
                loads(line),
                None,
                line.count("{") + line.count("[") > MAX_NESTING,
            )  # as _may_be_too_deep
        except RecursionError:
            yield number, None, TOO_DEEP, False
        except ValueError as error:
            yield (
                number,
                None,
                f"invalid JSON: {getattr(error, 'msg', error)}"
                + (f" (column {error.colno})" if hasattr(error, "colno") else ""),
                False,
            )


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}"]', re.S)


def read_json_array(stream: IO[str]) -> Iterator[Row]:
    """The elements of a JSON array, read a piece at a time (memory: the largest element)."""
    return _ArrayReader(stream).rows()


class _ArrayReader:
    """A JSON array read a chunk at a time: `buffer` holds the text from `position` on, and
    `line` is the line `position` is on."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.decoder = json.JSONDecoder(parse_float=exact_number)
        self.buffer, self.position, self.line, self.eof, self.first = "", 0, 1, False, True

    def rows(self) -> Iterator[Row]:
        self._skip_blanks()
        if self.position >= len(self.buffer) or self.buffer[self.position] != "[":
            yield self.line, None, "a JSON file must hold an array of items ([{...}, {...}])", False
            return
        self.position += 1
        while True:
            self._skip_blanks()
            if self.position >= len(self.buffer):
                yield self.line, None, "the array is never closed (a ']' is missing)", False
                return
            char = self.buffer[self.position]
            if char == "]":
                return
            if char == ",":
                self.position += 1
                continue
            row, go_on = self._element()
            yield row
            if not go_on:
                return

    def _element(self) -> tuple[Row, bool]:
        """The row of the element at `position`, and whether the array can be read past it."""
        value, end, problem = self._decode()
        if end is None:
            return (self.line, None, problem, False), False
        buffer, position = self.buffer, self.position
        element_line = self.line
        if (
            problem is None
            and not buffer.isascii()
            and (bad := _NOT_UTF8.search(buffer, position, end))
        ):
            element_line += buffer.count("\n", position, bad.start())  # the byte's line
            problem = _not_utf8(bad)
        self.line += buffer.count("\n", position, end)
        deep = problem is None and _may_be_too_deep(buffer, position, end)
        self.position = end
        return (element_line, value if problem is None else None, problem, deep), True

    def _decode(self) -> tuple[Any, int | None, str | None]:
        """(value, end, what is wrong) of the element at `position`; end is None when nothing
        after it can be read."""
        problem = None
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.position)
            except RecursionError:
                end = self._skip_value()
                if end is None:
                    return None, None, TOO_DEEP
                value, problem = None, TOO_DEEP
            except ValueError as error:
                if not self.eof and self._fill():
                    continue
                at = getattr(error, "pos", None)
                bad = _NOT_UTF8.match(self.buffer, at) if at is not None else None
                return (
                    None,
                    None,
                    (_not_utf8(bad) if bad else f"invalid JSON: {getattr(error, 'msg', error)}"),
                )
            if end == len(self.buffer) and not self.eof and self._fill():
                continue  # a number may go on in the next chunk
            return value, end, problem

    def _fill(self) -> bool:
        """Read the next chunk into the buffer (dropping what is before `position`)."""
        chunk = self.stream.read(1 << 20)
        if not chunk:
            self.eof = True
            return False
        if self.first:
            chunk, self.first = chunk[1:] if chunk.startswith(BOM) else chunk, False
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0
        return True

    def _skip_value(self) -> int | None:
        """The end of the array or object at `position`, found by its brackets (for one too deep
        for the parser); None if the text ends first."""
        depth, at = 0, self.position
        while True:
            token = _JSON_TOKEN.search(self.buffer, at)
            if token is None or token.group() == '"':  # a string that goes on in the next chunk
                start = self.position
                if self.eof or not self._fill():
                    return None
                at -= start
                continue
            at = token.end()
            char = token.group()
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return at

    def _skip_blanks(self) -> None:
        while True:
            buffer = self.buffer
            while self.position < len(buffer) and buffer[self.position] in " \t\r\n":
                if buffer[self.position] == "\n":
                    self.line += 1
                self.position += 1
            if self.position < len(buffer) or not self._fill():
                return


def read_csv(stream: IO[str], key_types: dict[str, str]) -> Iterator[Row]:
    """Rows as items. CSV has no types: a cell that reads as a JSON number, true, false, null, an
    object or a list is taken as one, anything else is a string, an empty cell no attribute;
    key attributes take their key type."""
    reader = csv.reader(_without_bom(stream))
    header = _csv_header(reader)
    if header is None:
        return
    while True:
        try:
            row = next(reader, None)
        except csv.Error as error:  # the rest of the line is skipped: go on with the next
            yield reader.line_num, None, f"invalid CSV: {error}", False
            continue
        if row is None:
            return
        if row:
            yield _csv_row(reader.line_num, header, row, key_types)


def _csv_header(reader: Iterator[list[str]]) -> list[str] | None:
    """The CSV's first line (None for an empty file): one that cannot be read stops the import."""
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InputError(f"line 1: the CSV header cannot be read: {error}") from None
    if header is not None and (bad := _NOT_UTF8.search("".join(header))):
        raise InputError(f"line 1: the CSV header is {_not_utf8(bad)}.")
    return header


def _csv_row(number: int, header: list[str], row: list[str], key_types: dict[str, str]) -> Row:
    """The row of line `number`: its item, or what is wrong with it."""
    if len(row) > len(header):
        return number, None, f"{len(row)} cells for {len(header)} columns", False
    text = "".join(row)
    if not text.isascii() and _NOT_UTF8.search(text):
        column, bad = next(
            (name, found) for name, cell in zip(header, row) if (found := _NOT_UTF8.search(cell))
        )
        return number, None, _not_utf8(bad, f"column {column!r}"), False
    try:
        item = _csv_item(header, row, key_types)
    except RecursionError:
        return number, None, TOO_DEEP, False
    return number, item, None, _may_be_too_deep(text)


def _csv_item(header: list[str], row: list[str], key_types: dict[str, str]) -> dict[str, Any]:
    """The cells as attributes: an empty cell is none, a key attribute's cell is of its type."""
    item = {}
    for name, cell in zip(header, row):
        if cell == "":
            continue
        kind = key_types.get(name)
        if kind == "S":
            item[name] = cell
        elif kind == "B":
            item[name] = {"B": cell}
        else:
            item[name] = _cell_value(cell)
    return item


def _cell_value(text: str) -> Any:
    first = text[0]
    if first in "-0123456789tfn[{" or (first == '"' and text[-1] == '"'):
        try:
            return _parse_json(text)
        except ValueError:
            pass
    return text


def open_text(source: str | os.PathLike | IO) -> tuple[IO[str], bool]:
    if isinstance(source, (str, os.PathLike)):
        try:
            return open(source, encoding="utf-8", errors="surrogateescape", newline=""), True
        except OSError as error:
            raise InputError(f"Cannot read {str(source)!r}: {error.strerror or error}") from None
    if isinstance(source, io.TextIOBase):
        return source, False
    return io.TextIOWrapper(source, encoding="utf-8", errors="surrogateescape", newline=""), False


def read_rows(fmt: str, stream: IO[str], key_types: dict[str, str]) -> Iterator[Row]:
    """The rows of a stream in one of the formats (CSV cells of the key attributes take their
    key types)."""
    if fmt == "jsonl":
        return read_jsonl(stream)
    if fmt == "json":
        return read_json_array(stream)
    return read_csv(stream, key_types)
