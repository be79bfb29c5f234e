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
- The files, queue, history and access routes: ``farm_api``.
- ``GET /api/farm/printers/<name>/terminal?since=N``: a printer's terminal lines after ``N`` (the
  ``seq`` of the page's last look), for the card's read-only terminal.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiohttp import web

from farmctl.auth import Principal
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http import cp_json
from farmctl.http.app import PRINCIPAL, farm_of
from farmctl.http.continuousprint import queues
from farmctl.http.octoprint_printer import temperature_now
from farmctl.http.octoprint_common import state_record
from farmctl.http.octoprint_job import progress_record
from farmctl.queue.validate import as_int

STATIC_DIR = Path(__file__).parent / "static"
HISTORY_ROWS = 20
TERMINAL_LINES = 200


def _file(farm: Farm, entry: FarmPrinter) -> dict[str, Any]:
    """The upload being (or last) printed. An event script runs from a temporary file: then the
    queue's current upload, else the last one it printed (selected), with ``script`` true."""
    progress = entry.printer.progress
    if progress is None:
        return {"path": None, "script": False}
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


async def terminal(request: web.Request) -> web.Response:
    entry = farm_of(request).printer(request.match_info["name"])
    since = as_int(request.query.get("since", "0"), "since", minimum=0)
    lines = entry.printer.terminal.since(since, TERMINAL_LINES)
    return web.json_response({"seq": lines.seq, "logs": lines.logs})


async def index(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC_DIR / "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/", index)
    app.router.add_static(f"{prefix}/static/", STATIC_DIR, append_version=False)
    app.router.add_get(f"{prefix}/api/farm/summary", summary)
    app.router.add_get(f"{prefix}/api/farm/printers/{{name}}/terminal", terminal)
