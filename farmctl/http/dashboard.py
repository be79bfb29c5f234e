"""The farm dashboard on the main port: ``/`` and ``/static/``, plus the few farm-wide reads it needs.

The page is plain HTML, CSS and JavaScript from ``farmctl/http/static`` (no build step, nothing
from a CDN: the Pi may be offline). It logs in with an API key (sent as ``X-Api-Key``) or with
user and password through OctoPrint's ``POST /api/login``, which sets the session cookie. It
changes things only through the existing APIs, so every button goes through the same farm
methods as any other client: Continuous Print's ``set_active``, ``set/add`` and ``job/rm``,
OctoPrint's ``/api/job`` for pause, resume and cancel, and ``/api/farm/appkeys`` for app keys.

Added here:

- ``GET /api/farm/summary``: every printer's state, the shared queue and recent history in one
  cheap JSON (memory plus two small reads of the database); the page polls it.
- ``GET /api/farm/files``: the uploads, for "add to queue".
- ``POST /api/farm/files``: a multipart upload (part ``file``) into the uploads folder; it
  tells push clients ``FileAdded``.
- ``GET /api/farm/printers/<name>/terminal?since=N``: a printer's terminal lines after ``N`` (the
  ``seq`` of the page's last look), for the card's read-only terminal.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from farmctl.auth import Principal
from farmctl.errors import FarmctlError
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.files.store import FileInfo, FileType
from farmctl.http import cp_json
from farmctl.http.app import PRINCIPAL, farm_of
from farmctl.http.continuousprint import queues
from farmctl.http.octoprint_printer import temperature_now
from farmctl.http.octoprint_common import state_record
from farmctl.http.octoprint_job import progress_record
from farmctl.http.params import json_body
from farmctl.queue.validate import as_int

STATIC_DIR = Path(__file__).parent / "static"
HISTORY_ROWS = 20
UPLOAD_CHUNK = 256 * 1024
TERMINAL_LINES = 200


def _file(farm: Farm, entry: FarmPrinter) -> dict[str, Any]:
    """The upload being (or last) printed. An event script runs from a temporary file: then the
    queue's current upload, else the last one it printed (selected), with ``script`` true."""
    progress = entry.printer.progress
    if progress is None:
        return {"path": None, "script": False}
    if progress.sd:
        return {"path": progress.path.name, "script": False, "sd": True}
    if (path := farm.upload_name(progress.path)) is not None:
        return {"path": path, "script": False}
    return {"path": entry.driver.current_path or entry.selected, "script": True}


def _printer(farm: Farm, entry: FarmPrinter, now: float) -> dict[str, Any]:
    printer, driver = entry.printer, entry.driver
    status = driver.status
    return {
        "name": entry.name,
        "state": state_record(printer),
        "profile": printer.profile.name,
        "firmware": printer.firmware.get("FIRMWARE_NAME", ""),
        "port": "simulated" if entry.config.simulated else entry.config.port,
        "temperatures": temperature_now(entry, printer.temperatures),
        "currentZ": printer.current_z,
        "prompt": None if printer.prompt is None else printer.prompt.as_dict(),
        "job": _file(farm, entry),
        "progress": progress_record(printer, None, now),
        "printerProfile": entry.printer_profile,
        "materials": list(entry.materials),
        "queue": {"active": driver.active, "status": cp_json.status_text(status),
                  "statusType": cp_json.status_type(status), "path": driver.current_path},
    }


async def summary(request: web.Request) -> web.Response:
    farm = farm_of(request)
    principal: Principal = request[PRINCIPAL]
    now = time.monotonic()
    history = await farm.model.settings.get_history(HISTORY_ROWS)
    return web.json_response({
        "user": {"name": principal.user, "role": principal.role.value},
        "printers": [_printer(farm, entry, now) for entry in farm.printers.values()],
        "queues": await queues(farm),
        "history": [{**cp_json.run_json(run), "printer": run.printer} for run in history],
    })


def _upload(info: FileInfo) -> dict[str, Any]:
    estimate = info.analysis.estimated_print_time if info.analysis is not None else None
    return {"path": info.path, "name": info.name, "size": info.size, "date": info.date,
            "estimatedPrintTime": estimate}


async def files(request: web.Request) -> web.Response:
    listed = await farm_of(request).uploads.list(recursive=True)
    return web.json_response({"files": [_upload(f) for f in listed if f.type == FileType.MACHINECODE]})


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(UPLOAD_CHUNK):
        yield chunk


async def upload(request: web.Request) -> web.Response:
    farm = farm_of(request)
    if request.content_type != "multipart/form-data":
        raise FarmctlError("send the file as multipart/form-data in a part named 'file'")
    reader = await request.multipart()
    saved: FileInfo | None = None
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "file" and part.filename:
            if saved is not None:
                raise FarmctlError("one file per upload")
            saved = await farm.uploads.save_stream(part.filename, _chunks(part))
    if saved is None:
        raise FarmctlError("no file in the upload (send it in a multipart part named 'file')")
    farm.files_changed("FileAdded", saved.path)
    return web.json_response(_upload(saved), status=201)


async def terminal(request: web.Request) -> web.Response:
    entry = farm_of(request).printer(request.match_info["name"])
    since = as_int(request.query.get("since", "0"), "since", minimum=0)
    lines = entry.printer.terminal.since(since, TERMINAL_LINES)
    return web.json_response({"seq": lines.seq, "logs": lines.logs})


async def _printer_body(request: web.Request) -> tuple[FarmPrinter, dict[str, Any]]:
    entry = farm_of(request).printer(request.match_info["name"])
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FarmctlError("the body must be a JSON object")
    return entry, body


async def materials(request: web.Request) -> web.Response:
    """The materials loaded per tool: ``{"materials": ["PLA_red_#ff0000"]}`` (null empties a tool)."""
    entry, body = await _printer_body(request)
    if set(body) != {"materials"}:
        raise FarmctlError('send {"materials": [one key per tool, like "PLA_red_#ff0000", or null]}')
    farm = farm_of(request)
    await farm.set_materials(entry, body["materials"])
    return web.json_response(_printer(farm, entry, time.monotonic()))


async def printer_profile(request: web.Request) -> web.Response:
    """The printer profile name queued sets' ``profiles`` are matched against: ``{"profile": "Prusa i3 MK3S"}``."""
    entry, body = await _printer_body(request)
    if set(body) != {"profile"}:
        raise FarmctlError('send {"profile": "<printer profile name>"}')
    farm = farm_of(request)
    await farm.set_printer_profile(entry, body["profile"])
    return web.json_response(_printer(farm, entry, time.monotonic()))


async def index(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC_DIR / "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/", index)
    app.router.add_static(f"{prefix}/static/", STATIC_DIR, append_version=False)
    app.router.add_get(f"{prefix}/api/farm/summary", summary)
    app.router.add_get(f"{prefix}/api/farm/files", files)
    app.router.add_post(f"{prefix}/api/farm/files", upload)
    app.router.add_get(f"{prefix}/api/farm/printers/{{name}}/terminal", terminal)
    app.router.add_post(f"{prefix}/api/farm/printers/{{name}}/materials", materials)
    app.router.add_post(f"{prefix}/api/farm/printers/{{name}}/printer_profile", printer_profile)
