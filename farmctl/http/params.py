"""Reading request parameters the way Continuous Print's and OctoPrint's clients send them.

Form fields, a ``json`` form field holding a JSON string, jQuery-style ``ids[]`` arrays and
booleans as the strings "true"/"True"/"false"/"False": every handler reads its input through
these helpers so every bad value gets the same clear 400.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from farmctl.errors import FarmctlError
from farmctl.http.multipart import BROKEN_BODY
from farmctl.queue.validate import as_int

def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond a float's range")
    return value


def loads(text: str | bytes) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity, and no number that overflows to one (1e999),
    since farmctl would later have to send it back as JSON it cannot write."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def parse_json_text(text: str, name: str) -> Any:
    try:
        return loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise FarmctlError(f"{name} is not valid JSON: {exc}") from None


MAX_BODY_BYTES = 16 << 20
READ_BODY = web.RequestKey("read_body", bytes)
"""A body the middleware already read off the wire (to check a peer's signature over it)."""
"""A JSON or form body's largest size (uploads stream and have their own limit): a larger one is a
413 before it is read, so a stray gigabyte cannot fill the Pi's memory."""


def _check_size(request: web.Request) -> None:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise FarmctlError(f"the request body is larger than {MAX_BODY_BYTES >> 20} MB", 413)


async def form(request: web.Request) -> MultiDictProxy[Any]:
    """The POSTed form (urlencoded or multipart), or the query string for bodiless requests."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_size(request)
        try:
            return await request.post()
        except BROKEN_BODY:
            raise FarmctlError(f"the body is not the {request.content_type} it claims to be") from None
    return request.query


async def payload(request: web.Request) -> dict[str, Any]:
    """Continuous Print's payload: a ``json`` field's object, else the flat form fields, else a JSON body."""
    if request.content_type == "application/json":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise FarmctlError("the JSON body must be an object")
        return body
    fields = await form(request)
    if "json" in fields:
        value = parse_json_text(str(fields["json"]), "the json field")
        if not isinstance(value, dict):
            raise FarmctlError("the json field must hold a JSON object")
        return value
    flat: dict[str, Any] = {}
    for key in fields.keys():
        values = fields.getall(key)
        if key.endswith("[]"):
            flat[key[:-2]] = values  # jQuery's job_ids[]=1&job_ids[]=2
        else:
            flat[key] = values if len(values) > 1 else values[0]  # requests sends a list as repeated fields
    return flat


async def json_body(request: web.Request) -> Any:
    _check_size(request)
    raw = bytearray(request.get(READ_BODY, b""))
    while chunk := await request.content.read(1 << 16):
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise FarmctlError(f"the request body is larger than {MAX_BODY_BYTES >> 20} MB", 413)
    try:
        return loads(bytes(raw).decode("utf-8"))
    except UnicodeDecodeError:
        raise FarmctlError("the request body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise FarmctlError(f"the request body is not valid JSON: {exc}") from None


def require(data: Mapping[str, Any], name: str) -> Any:
    if name not in data or data[name] is None:
        raise FarmctlError(f"missing {name!r}")
    return data[name]


def id_list(data: Mapping[str, Any], name: str) -> list[int]:
    """``job_ids[]=1&job_ids[]=2``, a JSON list, or a comma-separated string."""
    raw = data.get(name)
    if raw is None:
        raise FarmctlError(f"missing {name!r}")
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise FarmctlError(f"{name} must be a list of ids")
    return [as_int(item, name, minimum=0) for item in raw]
