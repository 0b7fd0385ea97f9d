"""Whole tables in and out: export to JSON lines, JSON or CSV, and import from them.

Export (`export.py`, `scan.py`) is a parallel scan: the table is read in N segments by a few
threads, and the pages are written as they come, by one writer, so memory holds a few pages
whatever the table's size. The scan's pages skip botocore's response parsing (see
`_speed/botocore_hooks.py`).

Checkpoints: while it runs (and when it is interrupted or fails), an export to a file keeps
`<file>.checkpoint` up to date: for each segment the key to go on from (or that it is done), and
the size of the output that holds exactly the pages written for those keys. `resume=True`
truncates the output to that size and goes on from those keys: no item is missing, none is there
twice. A finished export removes its checkpoint.

Import (`importing.py`, `readers.py`) reads the file as it goes (a JSON line or array element is
one item, plain or typed), and writes with BatchWriteItem in chunks of 25 from several threads;
the items of one key always go through the same thread, in the file's order, so the last line for
a key wins as it would one by one. Unprocessed items are retried with backoff; a bad line is
reported with its number and the rest goes on (or everything stops, with strict=True).

The formats and how each is written: `formats.py`.
"""

from .export import ExportInterrupted, ExportResult, export_table, iter_export
from .formats import FORMATS, format_of
from .importing import ImportResult, ImportStopped, LineError, import_table

__all__ = [
    "FORMATS",
    "ExportInterrupted",
    "ExportResult",
    "ImportResult",
    "ImportStopped",
    "LineError",
    "export_table",
    "format_of",
    "import_table",
    "iter_export",
]
