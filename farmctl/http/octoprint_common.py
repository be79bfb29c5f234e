"""What the OctoPrint routes share: reading a request body the way OctoPrint's clients send it,
the URLs a response points at, and which uploaded file a printer is busy with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm import control
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http.params import form, json_body
from farmctl.printer import Printer, PrinterState
from farmctl.queue.validate import json_number as number  # noqa: F401 (the OctoPrint routes import it from here)

VERSION = "1.11.8"
API_VERSION = "0.1"

BUSY = control.BUSY
OPERATIONAL = control.OPERATIONAL
require_operational = control.require_operational
_TRUE = frozenset({"true", "yes", "y", "1", "on"})


def no_content() -> web.Response:
    return web.Response(status=204)


def truthy(value: Any) -> bool:
    """OctoPrint's booleans: true/yes/y/1 in any case, or a JSON true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in _TRUE


async def command_body(request: web.Request) -> dict[str, Any]:
    """A JSON object body (OctoPrint's command endpoints), or form fields for lenient clients."""
    if request.content_type == "application/json":
        body = await json_body(request)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body = dict(await form(request))
    elif request.can_read_body:
        body = await json_body(request)
    else:
        body = {}
    if not isinstance(body, dict):
        raise FarmctlError("the request body must be a JSON object")
    return body


def command_of(body: dict[str, Any], known: tuple[str, ...]) -> str:
    command = body.get("command")
    if command not in known:
        raise FarmctlError(f"unknown command {command!r}; known: {', '.join(known)}")
    return command


def url_prefix(request: web.Request) -> str:
    """``/printers/<name>`` when the request came that way, else empty."""
    name = request.match_info.get("printer")
    return f"/printers/{name}" if name else ""


def base_url(request: web.Request) -> str:
    return f"{request.url.origin()}{url_prefix(request)}"


def printing_file(entry: FarmPrinter) -> Path | None:
    """The file a busy printer is streaming (a print or an event script), else None."""
    progress = entry.printer.progress
    if entry.printer.state in BUSY and progress is not None:
        return progress.path
    return None


def state_text(printer: Printer) -> str:
    """OctoPrint's state text, which tells an offline printer that failed from one switched off."""
    if printer.state == PrinterState.OFFLINE and printer.error:
        return "Offline after error"
    return printer.state.value


def state_record(printer: Printer) -> dict[str, Any]:
    """``{text, flags, error}``: the printer's state for REST, push and the dashboard alike."""
    return {"text": state_text(printer), "flags": state_flags(printer.state, printer.sd.ready), "error": printer.error}


def state_flags(state: PrinterState, sd_ready: bool) -> dict[str, bool]:
    """OctoPrint's state flags, the same for REST, push and the dashboard; ``sd_ready``: the card is mounted."""
    return {
        "operational": state in OPERATIONAL,
        "printing": state in (PrinterState.STARTING, PrinterState.PRINTING),  # as OctoPrint's PRINTING_STATES
        "cancelling": state == PrinterState.CANCELLING,
        "pausing": state == PrinterState.PAUSING,
        "resuming": False,
        "finishing": False,
        "closedOrError": state in (PrinterState.OFFLINE, PrinterState.ERROR),
        "error": state == PrinterState.ERROR,
        "paused": state == PrinterState.PAUSED,
        "ready": state == PrinterState.OPERATIONAL,
        "sdReady": sd_ready,
    }
