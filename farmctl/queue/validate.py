"""Turn caller values (form strings, JSON) into typed values, with one wording for every error.

The HTTP layer passes what it received; every check happens here, once, before any write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.files.paths import safe_relative_path
from farmctl.store import SetFields, SetRecord

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def as_bool(value: Any, name: str) -> bool:
    """Accept bools and the strings browsers and ``requests`` send ("true", "False", ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise FarmctlError(f"{name} must be true or false, not {value!r}")


MAX_INT = 2**63 - 1
"""SQLite's largest integer: a larger id or count is refused, not overflowed."""


MAX_SET_COPIES = 10_000
"""The most copies one set may owe: each is a row a claim can lock (``store.copies``)."""


def as_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise FarmctlError(f"{name} must be an integer, not {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise FarmctlError(f"{name} must be an integer, not {value!r}") from None
    else:
        raise FarmctlError(f"{name} must be an integer, not {value!r}")
    if minimum is not None and number < minimum:
        raise FarmctlError(f"{name} must be at least {minimum}, not {number}")
    if not -MAX_INT <= number <= MAX_INT:
        raise FarmctlError(f"{name} is too large: at most {MAX_INT}")
    if maximum is not None and number > maximum:
        raise FarmctlError(f"{name} must be at most {maximum}, not {number}")
    return number


def as_number(value: Any, name: str, *, minimum: float, maximum: float) -> float:
    """A finite number within bounds (a form sends it as text)."""
    if isinstance(value, bool):
        raise FarmctlError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise FarmctlError(f"{name} must be a number, not {value!r}") from None
    if not minimum <= number <= maximum:  # also refuses NaN and infinities
        raise FarmctlError(f"{name} must be between {minimum:g} and {maximum:g}, not {value!r}")
    return number


def json_number(body: Mapping[str, Any], name: str, low: float, high: float, default: float | None = None) -> float:
    """A JSON body's number within bounds (a JSON number only: ``"210"`` is refused, unlike a form's)."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            raise FarmctlError(f"missing {name!r}")
        raise FarmctlError(f"{name} must be a number, not {value!r}")
    if not low <= value <= high:
        raise FarmctlError(f"{name} must be between {low:g} and {high:g}, not {value:g}")
    return float(value)


def as_id(value: Any, name: str = "id") -> int:
    return as_int(value, name, minimum=1)


def as_optional_id(value: Any, name: str) -> int | None:
    """An id, or None for absent/empty (jQuery sends an empty string for "none")."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "null", "None")):
        return None
    return as_id(value, name)


def as_str(value: Any, name: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise FarmctlError(f"{name} must be a string, not {value!r}")
    if not allow_empty and not value.strip():
        raise FarmctlError(f"{name} must not be empty")
    return value


def as_set_path(value: Any) -> str:
    """A set's file, relative to the uploads folder: no absolute path, no '..', no hidden names.

    The driver prints ``uploads / path``, so a path that climbs out would stream any file on the host.
    """
    return str(safe_relative_path(as_str(value, "path"), require_extension=False))


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            raise FarmctlError(f"{name} must be a list, not {value!r}") from None
    if not isinstance(value, (list, tuple)):
        raise FarmctlError(f"{name} must be a list, not {value!r}")
    return list(value)


def as_materials(value: Any) -> tuple[str | None, ...]:
    """One entry per tool; None (or "") means any material on that tool."""
    items = _as_list(value, "materials")
    for item in items:
        if item is not None and not isinstance(item, str):
            raise FarmctlError(f"materials entries must be strings or null, not {item!r}")
    return tuple(item or None for item in items)


MATERIAL_KEY = re.compile(r"^[^_]+_[^_]+_#[0-9A-Fa-f]{6}$")
MAX_MATERIAL_KEY = 100


def as_loaded_materials(value: Any, tools: int) -> tuple[str | None, ...]:
    """What a printer has loaded, one entry per tool in Continuous Print's key format (``PLA_red_#ff0000``:
    material, colour name, colour), None for an empty tool; at most ``tools`` entries."""
    items = _as_list(value, "materials")
    if len(items) > tools:
        raise FarmctlError(f"materials has {len(items)} entries, but the printer has {tools} tool(s)")
    for item in items:
        if item is None or item == "":
            continue
        if not isinstance(item, str) or len(item) > MAX_MATERIAL_KEY or not MATERIAL_KEY.match(item):
            raise FarmctlError(f"a loaded material must look like PLA_red_#ff0000 (material, colour name, "
                               f"colour), not {item!r}")
    padded = [item or None for item in items] + [None] * (tools - len(items))
    return tuple(padded)


def as_profiles(value: Any) -> tuple[str, ...]:
    """Printer profile names allowed to print the set; empty means any."""
    items = _as_list(value, "profiles")
    for item in items:
        if not isinstance(item, str) or not item:
            raise FarmctlError(f"profiles entries must be non-empty strings, not {item!r}")
    return tuple(items)


def as_metadata(value: Any) -> str | None:
    """Metadata is stored as the JSON text the plugin keeps; a dict is encoded."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    raise FarmctlError(f"metadata must be a JSON string or object, not {value!r}")


def as_id_list(values: Any, name: str = "job_ids") -> list[int]:
    if isinstance(values, (str, int)):
        values = [values]
    if not isinstance(values, Sequence):
        raise FarmctlError(f"{name} must be a list of ids, not {values!r}")
    return [as_id(v, name) for v in values]


def as_set_fields(data: Mapping[str, Any], base: SetRecord | None = None) -> SetFields:
    """Validate a set as a caller gives it; fields left out keep ``base``'s value (or a new set's defaults)."""

    def pick(key: str, default: Any) -> Any:
        return data[key] if key in data else default

    path = as_set_path(pick("path", base.path if base else None))
    count = as_int(pick("count", base.count if base else 1), "count", minimum=1, maximum=MAX_SET_COPIES)
    return SetFields(
        path=path,
        sd=as_bool(pick("sd", base.sd if base else False), "sd"),
        count=count,
        remaining=as_int(pick("remaining", base.remaining if base else count), "remaining", minimum=0,
                         maximum=MAX_SET_COPIES),
        completed=as_int(pick("completed", base.completed if base else 0), "completed", minimum=0),
        metadata=as_metadata(pick("metadata", base.metadata if base else None)),
        materials=as_materials(pick("materials", base.materials if base else ())),
        profiles=as_profiles(pick("profiles", base.profiles if base else ())),
    )
