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

The formats and how each is written: `formats.py`; Parquet (written only, types kept exactly,
with pyarrow): `parquet.py`.

Copy (`copy.py`) hands the scan's pages, typed as the wire carries them, to the import's writers,
with a checkpoint that a resumed copy goes on from (its docstring says why no item is missing or
written twice). Imports and copies can leave existing items alone or refuse them
(`importing.MODES`); what a table already holds is looked up by `existing.py`.

Through S3 (`s3.py`): DynamoDB's own ExportTableToPointInTime and ImportTable do the work, with
S3 in between; the export's files are downloaded in parallel into the same writers, and a file
to import is uploaded as DynamoDB JSON (gzip) for ImportTable to create a new table from.
"""

from .copy import CopyResult, copy_table
from .export import ExportInterrupted, ExportResult, export_table, iter_export
from .formats import EXPORT_FORMATS, FORMATS, format_of
from .importing import ImportResult, ImportStopped, LineError, import_table
from .parquet import write_parquet
from .s3 import S3ExportResult, S3ImportResult, export_via_s3, import_via_s3

__all__ = [
    "CopyResult",
    "copy_table",
    "EXPORT_FORMATS",
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
    "write_parquet",
    "S3ExportResult",
    "S3ImportResult",
    "export_via_s3",
    "import_via_s3",
]
