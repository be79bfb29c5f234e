"""OctoPrint's /api/settings, /api/printerprofiles and /api/system/commands for one printer, and the
tiny page a printer's own port serves at ``/`` (OctoFarm checks that it answers 200).

Settings are built from the printer's farm.toml entry; the one writable value, appearance.name,
is kept per printer in the database, so a restart keeps it. ``api.key`` is always null: farmctl
has no global key and never echoes the caller's, which OctoFarm would reject.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import asdict
from typing import Any

from aiohttp import web

from farmctl.auth import Role
from farmctl.errors import FarmctlError
from farmctl.queue.settings import QueueOptions
from farmctl.sd import CardState
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http.app import farm_of, printer_of, require
from farmctl.http.octoprint_common import VERSION, base_url, command_body
from farmctl.http.octoprint_common import state_text
from farmctl.http.octoprint_printer import BAUDRATES, PROFILE_ID

_UUID_NAMESPACE = uuid.UUID("5d0b0a43-5b0e-4f0c-9a57-2f1b6f8c7e10")


def temperature_profiles(farm: Farm) -> list[dict[str, Any]]:
    """OctoPrint's temperature profiles: the farm's presets, as the dashboard edits them."""
    return [{"name": p.name, "extruder": p.tool, "bed": p.bed, "chamber": None} for p in farm.presets]


SYSTEM_ACTIONS = {
    "shutdown": "Shutdown system",
    "reboot": "Reboot system",
    "restart": "Restart OctoPrint",
}


def upnp_uuid(name: str) -> str:
    """Stable per printer name, so Home Assistant keeps one device per printer across restarts."""
    return str(uuid.uuid5(_UUID_NAMESPACE, name))


def _profile(entry: FarmPrinter) -> dict[str, Any]:
    bed, count = entry.config.bed, entry.config.extruders
    return {
        "id": PROFILE_ID, "name": entry.display_name, "model": entry.config.profile or entry.printer.profile.name,
        "color": "default", "default": True, "current": True, "resource": "",
        "heatedBed": bed.heated, "heatedChamber": False,
        "volume": {"width": bed.width, "depth": bed.depth, "height": bed.height, "formFactor": "rectangular",
                   "origin": "lowerleft", "custom_box": False},
        "axes": {"x": {"speed": 6000, "inverted": False}, "y": {"speed": 6000, "inverted": False},
                 "z": {"speed": 200, "inverted": False}, "e": {"speed": 300, "inverted": False}},
        "extruder": {"count": count, "offsets": [[0.0, 0.0]] * count, "nozzleDiameter": 0.4,
                     "sharedNozzle": False, "defaultExtrusionLength": 5},
    }


async def printerprofiles(request: web.Request) -> web.Response:
    entry = printer_of(request)
    profile = _profile(entry)
    profile["resource"] = f"{base_url(request)}/api/printerprofiles/{PROFILE_ID}"
    return web.json_response({"profiles": {PROFILE_ID: profile}})


async def printerprofile(request: web.Request) -> web.Response:
    if request.match_info["id"] != PROFILE_ID:
        raise FarmctlError(f"no printer profile {request.match_info['id']!r}; the only one is {PROFILE_ID}", 404)
    entry = printer_of(request)
    profile = _profile(entry)
    profile["resource"] = f"{base_url(request)}/api/printerprofiles/{PROFILE_ID}"
    return web.json_response(profile)


def settings_record(request: web.Request, entry: FarmPrinter, options: QueueOptions) -> dict[str, Any]:
    printer = entry.printer
    return {
        "api": {"key": None, "allowCrossOrigin": False},
        "appearance": {"name": entry.display_name, "color": "default", "colorTransparent": False,
                       "defaultLanguage": "_default", "showFahrenheitAlso": False},
        "feature": {"sdSupport": printer.sd.state is not CardState.UNSUPPORTED, "temperatureGraph": True, "keyboardControl": True,
                    "pollWatched": False, "modelSizeDetection": True, "printCancelConfirmation": True},
        "folder": {"uploads": str(farm_of(request).uploads_dir), "timelapse": None, "watched": None},
        "gcodeAnalysis": {"runAt": "always"},
        "plugins": {"discovery": {"upnpUuid": upnp_uuid(entry.name), "publicPort": request.url.port},
                    "appkeys": {},
                    "continuousprint": {"cp_printer_profile": entry.printer_profile or "", **asdict(options)}},
        "printer": {"defaultExtrusionLength": 5},
        "scripts": {"gcode": {}},
        "serial": {"port": printer.port, "baudrate": printer.baud, "portOptions": [printer.port],
                   "baudrateOptions": list(BAUDRATES), "autoconnect": True, "log": False},
        "server": {"commands": {"serverRestartCommand": None, "systemRestartCommand": None,
                                "systemShutdownCommand": None}, "allowFraming": False},
        "system": {"actions": [], "events": None},
        "temperature": {"profiles": temperature_profiles(farm_of(request)), "cutoff": 30, "sendAutomatically": False},
        "webcam": _webcam(entry),
    }


def _webcam(entry: FarmPrinter) -> dict[str, Any]:
    """OctoPrint's webcam block from the printer's ``webcam = { stream, snapshot }`` in farm.toml."""
    camera = entry.config.webcam
    stream, snapshot = (camera.stream, camera.snapshot) if camera is not None else ("", "")
    return {"webcamEnabled": bool(stream or snapshot), "timelapseEnabled": False, "streamUrl": stream,
            "snapshotUrl": snapshot, "flipH": False, "flipV": False, "rotate90": False,
            # the rest of OctoPrint 1.11.8's compatibility keys, with its defaults (Home Assistant's
            # client reads them without a fallback)
            "bitrate": "10000k", "streamRatio": "16:9", "streamTimeout": 5, "snapshotTimeout": 5,
            "snapshotSslValidation": True, "cacheBuster": False}


async def settings_get(request: web.Request) -> web.Response:
    farm = farm_of(request)
    return web.json_response(settings_record(request, printer_of(request), await farm.model.settings.get_options()))


async def settings_post(request: web.Request) -> web.Response:
    """Only appearance.name and Continuous Print's settings (printer profile, bed cooldown) can change
    (kept across restarts); anything else is refused, not ignored."""
    require(request, Role.ADMIN)
    farm, entry = farm_of(request), printer_of(request)
    body = await command_body(request)
    cp = body.get("plugins", {}).get("continuousprint", {}) if isinstance(body.get("plugins"), dict) else None
    for key, value in body.items():
        if key == "plugins" and isinstance(value, dict) and set(value) == {"continuousprint"} and isinstance(cp, dict):
            continue
        if key != "appearance" or not isinstance(value, dict) or set(value) - {"name"}:
            raise FarmctlError("only appearance.name and plugins.continuousprint can be changed here; "
                               "farm.toml holds the rest")
    name = body.get("appearance", {}).get("name")
    if name is not None and not isinstance(name, str):
        raise FarmctlError(f"appearance.name must be text, not {type(name).__name__}")
    if cp:
        cp = dict(cp)
        profile = cp.pop("cp_printer_profile", None)
        if cp:
            await farm.model.settings.edit_options(cp)  # validated first: a bad value changes nothing
        if profile is not None:
            await farm.set_printer_profile(entry, profile)
    if name is not None:
        await farm.rename(entry, name)
    return web.json_response(settings_record(request, entry, await farm.model.settings.get_options()))


def _action(request: web.Request, action: str) -> dict[str, Any]:
    return {"action": action, "name": SYSTEM_ACTIONS[action], "source": "core",
            "confirm": f"farmctl does not {action} the machine from the OctoPrint API.",
            "resource": f"{base_url(request)}/api/system/commands/core/{action}"}


async def system_commands(request: web.Request) -> web.Response:
    return web.json_response({"core": [_action(request, a) for a in SYSTEM_ACTIONS], "custom": []})


async def system_commands_of(request: web.Request) -> web.Response:
    source = request.match_info["source"]
    if source == "core":
        return web.json_response([_action(request, a) for a in SYSTEM_ACTIONS])
    if source == "custom":
        return web.json_response([])
    raise FarmctlError(f"unknown command source {source!r}; known: core, custom", 404)


async def system_command_post(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    source, action = request.match_info["source"], request.match_info["action"]
    if source not in ("core", "custom") or (source == "core" and action not in SYSTEM_ACTIONS) or source == "custom":
        raise FarmctlError(f"no system command {source}/{action}", 404)
    raise FarmctlError(f"farmctl does not {action} the machine over the OctoPrint API: one farm serves several "
                       "printers. Use the host's own tools (e.g. systemctl) instead.", 400)


async def index(request: web.Request) -> web.Response:
    entry = printer_of(request)
    name = html.escape(entry.display_name)
    return web.Response(content_type="text/html", text=(
        f"<!doctype html><html><head><meta charset=utf-8><title>{name} - farmctl</title></head><body>"
        f"<h1>{name}</h1><p>{html.escape(state_text(entry.printer))}. This port is the OctoPrint {VERSION} API of one "
        "printer of a farmctl farm; the farm's dashboard is on its main port. App key requests are "
        "decided there.</p></body></html>"))


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/settings", settings_get),
        web.post(prefix + "/api/settings", settings_post),
        web.get(prefix + "/api/printerprofiles", printerprofiles),
        web.get(prefix + "/api/printerprofiles/{id}", printerprofile),
        web.get(prefix + "/api/system/commands", system_commands),
        web.get(prefix + "/api/system/commands/{source}", system_commands_of),
        web.post(prefix + "/api/system/commands/{source}/{action}", system_command_post),
    ])
