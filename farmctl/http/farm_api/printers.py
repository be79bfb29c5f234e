"""The farm view and one printer's detail: ``/api/farm/printers...``.

A card (:func:`card`) is what the farm view shows of a printer, built from memory only, so the
push channel can build all of them every tick and send what changed. Actions on a printer are
``farmctl.farm.actions``' table, shared with the farm view's bulk toolbar.

- ``GET /api/farm/me``: who is calling (the page's login check).
- ``GET /api/farm/printers``: every card (the push channel's snapshot has the same), the other
  nodes' printers too, each marked with its node (``?scope=node``: this node's printers only).
- ``GET /api/farm/printers/<name>``: a card, its 30 minutes of temperatures and its terminal.
- ``GET /api/farm/printers/<name>/terminal?since=N``: terminal lines after ``seq`` N.
- ``POST /api/farm/printers/<name>/action``: ``{"action": "jog", ...}`` (see
  :data:`farmctl.farm.actions.ACTIONS`).

Every route with a ``<name>`` serves another node's printer too, forwarded to that node (see
:mod:`farmctl.http.farm_api.remote`).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from farmctl.auth import Principal
from farmctl.auth.peers import is_signed
from farmctl.automation import Event as HookEvent
from farmctl.errors import FarmctlError
from farmctl.farm import actions, control
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http import cp_json
from farmctl.http.app import PRINCIPAL, farm_of
from farmctl.http.farm_api import remote
from farmctl.http.octoprint_common import state_text
from farmctl.http.octoprint_job import progress_record
from farmctl.http.octoprint_printer import temperature_now, temperature_samples
from farmctl.http.params import json_body
from farmctl.queue.validate import as_int

TERMINAL_LINES = 200
TREND_POINTS = 60
"""Points in a card's temperature trend (the last ten minutes, one in five reports)."""
TREND_STEP = 5


def _file(farm: Farm, entry: FarmPrinter) -> dict[str, Any]:
    """The upload being (or last) printed. An event script runs from a temporary file: then the
    queue's current upload, else the last one it printed (selected), with ``script`` true."""
    progress = entry.printer.progress
    if progress is None:
        return {"path": None, "script": None}
    if progress.sd:
        return {"path": progress.path.name, "script": None, "sd": True}
    if (path := farm.upload_name(progress.path)) is not None:
        return {"path": path, "script": None}
    return {"path": entry.driver.current_path or entry.selected, "script": entry.script_name}


_AFTER_SUCCESS = frozenset({HookEvent.PRINT_SUCCESS, HookEvent.COOLDOWN, HookEvent.FINISH})


def _progress(entry: FarmPrinter, estimate: float | None, now: float) -> dict[str, Any]:
    """Completion to a tenth of a percent and whole seconds: the card changes no more often than it shows.
    During the scripts after a successful print (bed clearing) the print's 100 %, not the script's."""
    if entry.script_event in _AFTER_SUCCESS:
        return {"completion": 100.0, "printTime": None, "printTimeLeft": None}
    record = progress_record(entry.printer, estimate, now)
    completion = record["completion"]
    return {"completion": None if completion is None else round(completion, 1),
            "printTime": record["printTime"], "printTimeLeft": record["printTimeLeft"]}


def trend(entry: FarmPrinter) -> list[list[float | None]]:
    """The hotend's and the bed's recent actual temperatures, oldest first: ``[[tool, bed], ...]``."""
    history = list(entry.printer.temperature_history)[::-1][::TREND_STEP][:TREND_POINTS][::-1]
    points = []
    for _, report in history:
        tool, bed = report.get("T0") or report.get("T"), report.get("B")
        points.append([tool.actual if tool else None, bed.actual if bed else None])
    return points


def card(farm: Farm, entry: FarmPrinter, now: float, estimate: float | None = None,
         attention: dict[str, Any] | None = None) -> dict[str, Any]:
    """A printer as the farm view shows it; each top-level key is one unit of the push channel's diffs."""
    printer, driver = entry.printer, entry.driver
    return {
        "name": entry.name,
        "displayName": entry.display_name,
        "state": {"id": printer.state.name, "text": state_text(printer), "error": printer.error},
        "profile": printer.profile.name,
        "firmware": printer.firmware.get("FIRMWARE_NAME", ""),
        "port": "simulated" if entry.config.simulated else entry.config.port,
        "temperatures": temperature_now(entry, printer.temperatures),
        "currentZ": printer.current_z,
        "prompt": None if printer.prompt is None else printer.prompt.as_dict(),
        "job": _file(farm, entry),
        "progress": _progress(entry, estimate, now),
        "queue": {"active": driver.active, "status": cp_json.status_text(driver.status),
                  "statusType": cp_json.status_type(driver.status)},
        "attention": attention,
        "printerProfile": entry.printer_profile,
        "materials": list(entry.materials),
        "tags": list(entry.tags),
        "maintenance": entry.maintenance,
        "webcam": None if entry.config.webcam is None else {"stream": entry.config.webcam.stream,
                                                            "snapshot": entry.config.webcam.snapshot},
        "node": {"name": farm.config.node, "state": "up", "local": True},
    }


def whole_farm(request: web.Request) -> bool:
    """Whether a card list should hold the other nodes' printers: not for ``scope=node``, nor for a
    call from another node (each node reports its own printers only)."""
    scope = request.query.get("scope", "farm")
    if scope not in ("farm", "node"):
        raise FarmctlError("scope must be farm (every node's printers) or node (this node's only)")
    return scope == "farm" and not is_signed(request.headers)


async def remote_cards(farm: Farm, trends: bool = True) -> list[dict[str, Any]]:
    """The other nodes' cards (with their trends), once their channels have said something (or a moment passed)."""
    await farm.peer_watch.fresh()
    return [card | {"trend": farm.one_view.trend(name)} if trends else card
            for name, card in farm.one_view.cards().items()]


async def me(request: web.Request) -> web.Response:
    principal: Principal = request[PRINCIPAL]
    return web.json_response({"name": principal.user, "role": principal.role.value})


async def printers(request: web.Request) -> web.Response:
    farm = farm_of(request)
    now = time.monotonic()
    cards = [card(farm, entry, now) | {"trend": trend(entry)} for entry in farm.printers.values()]
    if whole_farm(request):
        cards += await remote_cards(farm)
    return web.json_response({"printers": cards})


async def printer_detail(request: web.Request) -> web.Response:
    farm = farm_of(request)
    entry = farm.printer(request.match_info["name"])
    lines = entry.printer.terminal.since(0, TERMINAL_LINES)
    return web.json_response({
        "printer": card(farm, entry, time.monotonic()),
        "heaters": control.heater_names(entry),
        "temperatureHistory": temperature_samples(entry, entry.printer.temperature_history),
        "terminal": {"seq": lines.seq, "logs": lines.logs},
    })


async def terminal(request: web.Request) -> web.Response:
    entry = farm_of(request).printer(request.match_info["name"])
    since = as_int(request.query.get("since", "0"), "since", minimum=0)
    lines = entry.printer.terminal.since(since, TERMINAL_LINES)
    return web.json_response({"seq": lines.seq, "logs": lines.logs})


async def _body_of(request: web.Request, key: str, example: str) -> tuple[Farm, FarmPrinter, Any]:
    farm = farm_of(request)
    entry = farm.printer(request.match_info["name"])
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) != {key}:
        raise FarmctlError(f"send {{{key!r}: {example}}}".replace("'", '"'))
    return farm, entry, body[key]


async def materials(request: web.Request) -> web.Response:
    """The materials loaded per tool: ``{"materials": ["PLA_red_#ff0000"]}`` (null empties a tool)."""
    farm, entry, loaded = await _body_of(request, "materials", '[one key per tool, like "PLA_red_#ff0000", or null]')
    await farm.set_materials(entry, loaded)
    return web.json_response({"printer": card(farm, entry, time.monotonic())})


async def printer_profile(request: web.Request) -> web.Response:
    """The printer profile name queued sets' ``profiles`` are matched against: ``{"profile": "Prusa i3 MK3S"}``."""
    farm, entry, profile = await _body_of(request, "profile", '"<printer profile name>"')
    await farm.set_printer_profile(entry, profile)
    return web.json_response({"printer": card(farm, entry, time.monotonic())})


async def action(request: web.Request) -> web.Response:
    farm = farm_of(request)
    entry = farm.printer(request.match_info["name"])
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FarmctlError(f"send {{\"action\": ...}}, one of {', '.join(actions.ACTIONS)}")
    await actions.prepare(farm, body.get("action"), body)(entry)
    return web.json_response({"printer": card(farm, entry, time.monotonic())})


ROUTES = (
    ("GET", "/api/farm/me", me),
    ("GET", "/api/farm/printers", printers),
    ("GET", "/api/farm/printers/{name}", remote.forwarded(printer_detail)),
    ("GET", "/api/farm/printers/{name}/terminal", remote.forwarded(terminal)),
    ("POST", "/api/farm/printers/{name}/action", remote.forwarded(action)),
    ("POST", "/api/farm/printers/{name}/materials", remote.forwarded(materials)),
    ("POST", "/api/farm/printers/{name}/printer_profile", remote.forwarded(printer_profile)),
)
