"""The C accelerator of the value conversion (`_codec.c`), used when it is built.

Justified by the codec benchmark (`scripts/bench --only codec`; docs/performance.md, "1. The
codec"): typed -> plain about 10x boto3's TypeDeserializer with it, 2x in pure Python; plain ->
typed about 8x TypeSerializer against 3x. The export's JSON lines (benchmark 2a) and the
import's request bodies (benchmark 3) are written by it too.

The module does the regular cases and hands anything else to the Python functions given to
`setup`, so results and problems are those of the Python code in values.py (tests/test_codec.py
checks it). DYNAQUERY_PURE_PYTHON=1 turns it off.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any


def load_codec(*fallbacks: Any) -> ModuleType | None:
    """The C module, set up with the Python functions it falls back to (in `setup`'s order:
    Decimal, to_plain, number, item_json, b64decode, typed_json); None when it is not built or
    is turned off."""
    if os.environ.get("DYNAQUERY_PURE_PYTHON"):
        return None
    try:
        from .. import _codec
    except ImportError:
        return None
    _codec.setup(*fallbacks)
    return _codec


def page_lines() -> Any:
    """The C transcoder of a Scan or Query page's raw body into plain JSON lines
    (`_codec.page_lines`), or None when the module is not built or is turned off. Justified by
    the replayed export benchmark (`scripts/bench --only replay`; docs/performance.md)."""
    if os.environ.get("DYNAQUERY_PURE_PYTHON"):
        return None
    try:
        from .. import _codec
    except ImportError:
        return None
    return getattr(_codec, "page_lines", None)
