"""Value checks shared by farm.toml's tables: each raises ValueError with the wording the operator sees."""

from __future__ import annotations

import re
from typing import Any

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
"""A printer's or a node's name: used in URLs, MQTT topics and Home Assistant ids."""


def typed(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """``value`` if it is a ``kind`` (a boolean is no number), else ValueError naming ``what``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ValueError(f"{what} must be {getattr(kind, '__name__', kind)}, not a boolean")
    if not isinstance(value, kind):
        raise ValueError(f"{what} must be {getattr(kind, '__name__', 'a number')}, not {value!r}")
    return value


def within(value: Any, ok: bool, message: str) -> Any:
    if not ok:
        raise ValueError(message)
    return value


def name(value: Any, what: str) -> str:
    return within(typed(value, str, what), bool(NAME.match(str(value))),
                  f"{what} {value!r} must be 1-40 letters, digits, '-' or '_' (it is used in URLs and topics)")


def table_keys(raw: Any, what: str, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    """``raw`` as a table with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(raw, dict):
        raise ValueError(f"{what} must be a table like {what} = {{ {', '.join(sorted(required or allowed))} = ... }}")
    unknown = raw.keys() - allowed
    if unknown:
        raise ValueError(f"{what} has unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(allowed))})")
    missing = required - raw.keys()
    if missing:
        raise ValueError(f"{what} needs a {sorted(missing)[0]!r}")
    return raw
