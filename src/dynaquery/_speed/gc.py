"""The cyclic garbage collector: off while a command starts, back on for the long ones.

Justified by the cold start benchmark (docs/performance.md, "5. Cold start"; `scripts/bench`): a
command first builds botocore's client and service model, a few hundred thousand objects that
live until exit. The collector's full passes over them find nothing and cost a short command
about 15 % of its time (75 ms of `dynaquery run ListTables`).
"""

from __future__ import annotations

import gc


def pause_collection() -> None:
    """At the command's entry: no cyclic collection until a long command asks for it."""
    gc.disable()


def collect_garbage() -> None:
    """Turn the collector back on, for a command that runs long (botocore leaves a few reference
    cycles per request). What exists by now lives until exit: frozen, it is not scanned again."""
    gc.freeze()
    gc.enable()
