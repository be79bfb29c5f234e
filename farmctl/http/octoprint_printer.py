"""OctoPrint's printer routes: /api/connection, /api/printer and its tool, bed, printhead and
command endpoints. Every change becomes G-code sent through ``Printer.command``, except the tool
and bed ``offset`` commands: the farm keeps those per printer and the printer adds them to the
targets in the files it prints, as OctoPrint does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm import control
from farmctl.farm.farm import FarmPrinter
from farmctl.http.app import farm_of, printer_of
from farmctl.http.octoprint_common import (
    BUSY, command_body, command_of, no_content, number, require_operational, state_record, state_text,
)
from farmctl.printer import Printer, PrinterState
from farmctl.protocol.replies import Reading, Temperatures

log = logging.getLogger(__name__)

PROFILE_ID = "_default"
BAUDRATES = (250000, 230400, 115200, 57600, 38400, 19200, 9600)
MAX_TEMPERATURE = control.MAX_TEMPERATURE
_S = PrinterState

# -- shared by /api/printer, /api/job and the push channel -------------------------------------


def _reading(reading: Reading | None, offset: float | None) -> dict[str, Any]:
    """One heater as OctoPrint shows it; ``offset`` None leaves the key out (history samples have none)."""
    record: dict[str, Any] = {"actual": None, "target": None}
    if reading is not None:
        record = {"actual": reading.actual, "target": reading.target}
    if offset is not None:
        record["offset"] = offset
    return record


heaters = control.heater_names


def offsets_of(entry: FarmPrinter) -> dict[str, float]:
    """OctoPrint's offsets: every heater, 0 where none is set, e.g. {"tool0": 5.0, "bed": 0.0}."""
    offsets = entry.printer.temperature_offsets
    return {name: offsets.get(name, 0.0) for name in heaters(entry)}


def tool_reading(report: Temperatures, tool: int, tools: int) -> Reading | None:
    found = report.get(f"T{tool}")
    if found is None and tool == 0 and tools == 1:
        found = report.get("T")
    return found


def temperature_now(entry: FarmPrinter, report: Temperatures | None,
                    offsets: dict[str, float] | None = None) -> dict[str, Any]:
    """``{tool0: {actual, target, offset}, ..., bed: {...}}`` for one report; no ``offset`` without ``offsets``."""
    if report is None:
        return {}

    def offset(name: str) -> float | None:
        return None if offsets is None else offsets.get(name, 0.0)

    tools = entry.config.extruders
    result: dict[str, Any] = {}
    for tool in range(tools):
        result[f"tool{tool}"] = _reading(tool_reading(report, tool, tools), offset(f"tool{tool}"))
    if entry.config.bed.heated or report.get("B") is not None:
        result["bed"] = _reading(report.get("B"), offset("bed"))
    if (chamber := report.get("C")) is not None:
        result["chamber"] = _reading(chamber, offset("chamber"))
    return result


def temperature_samples(entry: FarmPrinter, samples: Iterable[tuple[float, Temperatures]]) -> list[dict[str, Any]]:
    """OctoPrint's temperature history: ``[{time, tool0: {actual, target}, bed: {...}}, ...]``."""
    return [{"time": int(when)} | temperature_now(entry, report) for when, report in samples]


def temperature_record(entry: FarmPrinter, history: bool, limit: int | None) -> dict[str, Any]:
    result = temperature_now(entry, entry.printer.temperatures, offsets_of(entry))
    if history:
        samples = list(entry.printer.temperature_history)
        if limit is not None:
            samples = samples[-limit:] if limit > 0 else []
        result["history"] = temperature_samples(entry, samples)
    return result


def _history_query(request: web.Request) -> tuple[bool, int | None]:
    history = request.query.get("history", "").lower() in ("true", "1", "yes")
    limit_text = request.query.get("limit")
    if limit_text is None:
        return history, None
    try:
        limit = int(limit_text)
    except ValueError:
        raise FarmctlError(f"limit must be a whole number, not {limit_text!r}") from None
    return history, max(0, limit)


# -- commands ---------------------------------------------------------------------------------

send = control.send


# -- handlers ----------------------------------------------------------------------------------


async def connection_get(request: web.Request) -> web.Response:
    entry = printer_of(request)
    printer = entry.printer
    online = printer.state != _S.OFFLINE
    return web.json_response({
        # OctoPrint drops its serial connection object once closed, and then says "Closed" here
        # (octoprint-cli shows "Printer Disconnected" on that word alone); /api/job still says "Offline".
        "current": {"state": state_text(printer) if online else "Closed", "port": printer.port if online else None,
                    "baudrate": printer.baud if online else None,
                    "printerProfile": PROFILE_ID},
        "options": {"ports": [printer.port], "baudrates": list(BAUDRATES),
                    "printerProfiles": [{"id": PROFILE_ID, "name": entry.name}],
                    "portPreference": printer.port, "baudratePreference": entry.config.baud,
                    "printerProfilePreference": PROFILE_ID, "autoconnect": True},
    })


async def connection_post(request: web.Request) -> web.Response:
    entry = printer_of(request)
    body = await command_body(request)
    command = command_of(body, ("connect", "disconnect", "fake_ack"))
    if command == "connect":
        port, baud, profile = body.get("port"), body.get("baudrate"), body.get("printerProfile")
        if port not in (None, "", "AUTO", entry.printer.port):
            raise FarmctlError(f"unknown port {port!r}; this printer is on {entry.printer.port}")
        if baud not in (None, 0, "AUTO") and baud not in BAUDRATES:
            raise FarmctlError(f"unsupported baudrate {baud!r}; known: {', '.join(map(str, BAUDRATES))}")
        if profile not in (None, "", PROFILE_ID):
            raise FarmctlError(f"unknown printer profile {profile!r}; known: {PROFILE_ID}")
        await control.connect(entry)  # OctoPrint answers 204 after a failure too and shows the error state
    elif command == "disconnect":
        await control.disconnect(entry)
    # fake_ack: the sender recovers lost acknowledgements itself; accepted and ignored.
    return no_content()


async def printer_get(request: web.Request) -> web.Response:
    entry = printer_of(request)
    require_operational(entry)
    exclude = {part.strip() for part in request.query.get("exclude", "").split(",") if part.strip()}
    history, limit = _history_query(request)
    result: dict[str, Any] = {}
    if "temperature" not in exclude:
        result["temperature"] = temperature_record(entry, history, limit)
    if "sd" not in exclude:
        result["sd"] = {"ready": entry.printer.sd.ready}
    if "state" not in exclude:
        result["state"] = state_record(entry.printer)
    return web.json_response(result)


async def command_post(request: web.Request) -> web.Response:
    entry = printer_of(request)
    body = await command_body(request)
    if "commands" in body:
        commands = body["commands"]
        if not isinstance(commands, list):
            raise FarmctlError("commands must be a list of G-code lines")
    elif "command" in body:
        commands = [body["command"]]
    else:
        raise FarmctlError("send {\"command\": \"G28\"} or {\"commands\": [...]}")
    await send(entry, commands)
    return no_content()


async def custom_controls(request: web.Request) -> web.Response:
    return web.json_response({"controls": []})


def _tool_number(entry: FarmPrinter, name: Any) -> int:
    tools = entry.config.extruders
    if isinstance(name, str) and name.startswith("tool") and name[4:].isdigit() and int(name[4:]) < tools:
        return int(name[4:])
    raise FarmctlError(f"unknown tool {name!r}; this printer has tool0..tool{tools - 1}")


def _tool_map(entry: FarmPrinter, body: dict[str, Any], name: str, low: float, high: float) -> dict[int, float]:
    values = body.get(name)
    if not isinstance(values, dict) or not values:
        raise FarmctlError(f"{name} must be an object like {{\"tool0\": 200}}")
    return {_tool_number(entry, tool): number(values, tool, low, high) for tool in values}


async def tool_post(request: web.Request) -> web.Response:
    entry = printer_of(request)
    body = await command_body(request)
    command = command_of(body, ("target", "offset", "select", "extrude", "flowrate"))
    if command == "target":
        targets = _tool_map(entry, body, "targets", 0, MAX_TEMPERATURE)
        await control.set_targets(entry, {f"tool{n}": degrees for n, degrees in targets.items()})
    elif command == "offset":
        offsets = {f"tool{n}": degrees for n, degrees in _tool_map(entry, body, "offsets", -50, 50).items()}
        require_operational(entry)
        await farm_of(request).set_temperature_offsets(entry, offsets)
    elif command == "select":
        tool = _tool_number(entry, body.get("tool"))
        await send(entry, [f"T{tool}"])
    elif command == "extrude":
        amount = number(body, "amount", -1000, 1000)
        speed = number(body, "speed", 1, 10000, default=300)
        await control.extrude(entry, amount, speed)
    else:
        factor = number(body, "factor", 75, 125)
        await send(entry, [f"M221 S{factor:g}"])
    return no_content()


async def tool_get(request: web.Request) -> web.Response:
    entry = printer_of(request)
    require_operational(entry)
    history, limit = _history_query(request)
    record = temperature_record(entry, history, limit)
    record.pop("bed", None)
    record.pop("chamber", None)
    return web.json_response(record)


async def bed_get(request: web.Request) -> web.Response:
    entry = printer_of(request)
    require_operational(entry)
    _heated_bed(entry)
    history, limit = _history_query(request)
    record = temperature_record(entry, history, limit)
    result: dict[str, Any] = {"bed": record.get("bed", _reading(None, offsets_of(entry)["bed"]))}
    if history:
        result["history"] = [{"time": h["time"], "bed": h.get("bed")} for h in record["history"]]
    return web.json_response(result)


def _heated_bed(entry: FarmPrinter) -> None:
    if not entry.config.bed.heated:
        raise FarmctlError("this printer has no heated bed", 409)


async def bed_post(request: web.Request) -> web.Response:
    entry = printer_of(request)
    body = await command_body(request)
    command = command_of(body, ("target", "offset"))
    _heated_bed(entry)
    if command == "target":
        target = number(body, "target", 0, MAX_TEMPERATURE)
        await control.set_targets(entry, {"bed": target})
    else:
        offset = number(body, "offset", -50, 50)
        require_operational(entry)
        await farm_of(request).set_temperature_offsets(entry, {"bed": offset})
    return no_content()


async def printhead_post(request: web.Request) -> web.Response:
    entry = printer_of(request)
    body = await command_body(request)
    command = command_of(body, ("jog", "home", "feedrate"))
    if command == "jog":
        moves = {axis: number(body, axis, -10000, 10000) for axis in ("x", "y", "z") if body.get(axis) is not None}
        speed = number(body, "speed", 1, 100000) if body.get("speed") not in (None, False) else None
        await control.jog(entry, moves, speed, absolute=bool(body.get("absolute")))
    elif command == "home":
        axes = body.get("axes")
        if not isinstance(axes, list):
            raise FarmctlError("home needs axes, a list of \"x\", \"y\" and \"z\"")
        await control.home(entry, axes)
    else:
        factor = number(body, "factor", 50, 200)
        await send(entry, [f"M220 S{factor:g}"])
    return no_content()


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/connection", connection_get),
        web.post(prefix + "/api/connection", connection_post),
        web.get(prefix + "/api/printer", printer_get),
        web.post(prefix + "/api/printer/command", command_post),
        web.get(prefix + "/api/printer/command/custom", custom_controls),
        web.get(prefix + "/api/printer/tool", tool_get),
        web.post(prefix + "/api/printer/tool", tool_post),
        web.get(prefix + "/api/printer/bed", bed_get),
        web.post(prefix + "/api/printer/bed", bed_post),
        web.post(prefix + "/api/printer/printhead", printhead_post),
    ])
