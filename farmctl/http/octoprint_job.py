"""OctoPrint's /api/job: the selected or printing file, its progress, and start / restart /
cancel / pause. A print runs in a task the farm tracks; the request returns once it is under way.

:func:`job_record` is the one source of OctoPrint's job object, for /api/job and the push channel.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm import control
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.files import FileInfo
from farmctl.http.app import farm_of, printer_of
from farmctl.http.octoprint_common import (
    BUSY, command_body, command_of, no_content, printing_file, state_text,
)
from farmctl.printer import Printer

RESTART_WAIT = 10.0


NO_FILE: dict[str, Any] = {"name": None, "path": None, "display": None, "origin": None, "size": None, "date": None}
NO_PROGRESS: dict[str, Any] = {"completion": None, "filepos": None, "printTime": None, "printTimeLeft": None,
                               "printTimeLeftOrigin": None}


def job_path(farm: Farm, entry: FarmPrinter) -> str | None:
    """The upload OctoPrint's job is about: the one being streamed, else the selected one.
    None while an event script runs (not an upload) or when nothing is selected."""
    streaming = printing_file(entry)
    return farm.upload_name(streaming) if streaming is not None else entry.selected


async def job_file_info(farm: Farm, relative: str | None) -> FileInfo | None:
    """The upload's record for :func:`job_record` (None if it is gone: the job then shows no file).
    Polled by every client of every printer, so from the folder's recent records."""
    if relative is None:
        return None
    return await farm.uploads.recent_info(relative, time.monotonic())


def progress_record(printer: Printer, estimate: float | None, now: float) -> dict[str, Any]:
    """OctoPrint's progress of the printer's last stream: completion in percent of the file's bytes and
    the time printed; while it runs, the time left from the analysis' estimate, else extrapolated."""
    current = printer.progress
    if current is None:
        return dict(NO_PROGRESS)
    fraction = current.fraction
    elapsed = current.elapsed(now)
    record = {"completion": round(fraction * 100, 3), "filepos": current.offset, "printTime": int(elapsed),
              "printTimeLeft": 0 if fraction >= 1 else None, "printTimeLeftOrigin": None}
    if current.ended is not None or printer.state not in BUSY:
        return record  # ended: its time is kept, nothing is left to estimate
    if estimate:
        record.update(printTimeLeft=int(max(0.0, estimate - elapsed)), printTimeLeftOrigin="analysis")
    elif fraction > 0:
        record.update(printTimeLeft=int(elapsed / fraction - elapsed), printTimeLeftOrigin="linear")
    return record


def job_record(farm: Farm, entry: FarmPrinter, info: FileInfo | None, now: float) -> dict[str, Any]:
    """GET /api/job's object; the push channel's ``job`` and ``progress`` are its parts.

    ``info`` is :func:`job_path`'s upload, looked up by the caller (None when there is none): all
    else comes from memory, so the push tick can build this as often as it sends.
    """
    printer = entry.printer
    streaming = printing_file(entry)
    file = dict(NO_FILE)
    if info is not None:
        file = {"name": info.name, "path": info.path, "display": info.name, "origin": "local",
                "size": info.size, "date": info.date}
    elif streaming is not None:  # an event script from the queue: not an upload, so no path
        name = entry.script_name or streaming.name
        file = NO_FILE | {"name": name, "display": name, "origin": "local",
                          "size": printer.progress.size if printer.progress else None}
    analysis = info.analysis if info is not None else None
    estimate = analysis.estimated_print_time if analysis is not None else None
    filament = None
    if analysis is not None:
        filament = {f"tool{n}": {"length": length, "volume": round(analysis.filament_volume_cm3(n), 5)}
                    for n, length in enumerate(analysis.filament_mm)}
    current = printer.progress
    ours = current is not None and (streaming is not None or (
        info is not None and farm.upload_name(current.path) == info.path))
    card_file = sd_job_file(entry)
    if card_file is not None:
        file, ours = card_file
    return {
        "job": {"file": file, "estimatedPrintTime": estimate, "averagePrintTime": None, "lastPrintTime": None,
                "filament": filament, "user": None},
        "progress": progress_record(printer, estimate, now) if ours else dict(NO_PROGRESS),
        "state": state_text(entry.printer),
        "error": printer.error or None,
    }


def sd_job_file(entry: FarmPrinter) -> tuple[dict[str, Any], bool] | None:
    """The job's file when it is on the printer's card (printing from it, or selected there), and
    whether the printer's progress is that file's; None when the job is not about the card."""
    printer, name = entry.printer, entry.selected_sd
    current = printer.progress
    printing = printing_file(entry) is not None
    if printing and not (current is not None and current.sd):
        return None  # streaming an upload or a script
    listed = printer.sd.find(name) if name is not None else None
    display = listed.display if listed is not None else name
    if current is not None and current.sd and (printing or display == current.path.name):
        name = name or current.path.name  # its progress, printing now or ended: the firmware's name, its size
        return {"name": name, "path": name, "display": current.path.name, "origin": "sdcard",
                "size": current.size, "date": None}, True
    if name is None:
        return None
    return {"name": name, "path": name, "display": display, "origin": "sdcard",
            "size": listed.size if listed is not None else None, "date": None}, False


async def job_get(request: web.Request) -> web.Response:
    farm, entry = farm_of(request), printer_of(request)
    info = await job_file_info(farm, job_path(farm, entry))
    return web.json_response(job_record(farm, entry, info, time.monotonic()))


async def job_post(request: web.Request) -> web.Response:
    """OctoPrint's job commands; the printer decides whether each may happen now (409 if not)."""
    farm, entry = farm_of(request), printer_of(request)
    body = await command_body(request)
    command = command_of(body, ("start", "restart", "cancel", "pause"))
    printer = entry.printer
    if command == "start":
        await control.print_selected(farm, entry)
    elif command == "cancel":
        printer.cancel()
    elif command == "restart":
        await printer.cancel_paused(RESTART_WAIT)
        await control.print_selected(farm, entry)
    else:
        actions = {"pause": printer.pause, "resume": printer.resume, "toggle": printer.toggle_pause}
        action = body.get("action", "toggle")
        if action not in actions:
            raise FarmctlError(f"unknown pause action {action!r}; known: pause, resume, toggle")
        actions[action]()
    return no_content()


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/job", job_get),
        web.post(prefix + "/api/job", job_post),
    ])
