"""Checks of text that comes from outside (the API's JSON, the command's arguments)."""

from __future__ import annotations

from typing import Any


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """Where a request's JSON holds text that is no Unicode (a lone surrogate such as "\\ud800",
    which JSON can spell but no database stores), as "path: what"; else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"{path or 'the body'}: contains a lone surrogate "
                f"(U+{ord(value[error.start]):04X}), which is no character"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate(key, path) or lone_surrogate(
                item, f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate(item, f"{path}[{index}]")
            if found:
                return found
    return None
