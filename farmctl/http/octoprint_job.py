"""OctoPrint's /api/job: the selected or printing file, its progress, and start / restart /
cancel / pause. A print runs in a task the farm tracks; the request returns once it is under way.

:func:`job_record` is the one source of OctoPrint's job object, for /api/job and the push channel.
"""

from __future__ import annotations

import asyncio
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
from farmctl.printer import Printer, PrinterState

RESTART_WAIT = 10.0
_S = PrinterState


async def start_selected(farm: Farm, entry: FarmPrinter) -> None:
    """Print the printer's selected file; 409 when nothing is selected or the printer is not ready."""
    if entry.selected is None:
        raise FarmctlError("no file is selected for printing", 409)
    await control.print_upload(farm, entry, entry.selected)


NO_FILE: dict[str, Any] = {"name": None, "path": None, "display": None, "origin": None, "size": None, "date": None}
NO_PROGRESS: dict[str, Any] = {"completion": None, "filepos": None, "printTime": None, "printTimeLeft": None,
                               "printTimeLeftOrigin": None}


def job_path(farm: Farm, entry: FarmPrinter) -> str | None:
    """The upload OctoPrint's job is about: the one being streamed, else the selected one.
    None while an event script runs (not an upload) or when nothing is selected."""
    streaming = printing_file(entry)
    return farm.upload_name(streaming) if streaming is not None else entry.selected


async def job_file_info(farm: Farm, relative: str | None) -> FileInfo | None:
    """The upload's record for :func:`job_record` (None if it is gone: the job then shows no file)."""
    if relative is None:
        return None
    try:
        return await farm.uploads.info(relative)
    except FarmctlError:
        return None


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
    return {
        "job": {"file": file, "estimatedPrintTime": estimate, "averagePrintTime": None, "lastPrintTime": None,
                "filament": filament, "user": None},
        "progress": progress_record(printer, estimate, now) if ours else dict(NO_PROGRESS),
        "state": state_text(entry.printer),
        "error": printer.error or None,
    }


async def job_get(request: web.Request) -> web.Response:
    farm, entry = farm_of(request), printer_of(request)
    info = await job_file_info(farm, job_path(farm, entry))
    return web.json_response(job_record(farm, entry, info, time.monotonic()))


async def job_post(request: web.Request) -> web.Response:
    farm, entry = farm_of(request), printer_of(request)
    body = await command_body(request)
    command = command_of(body, ("start", "restart", "cancel", "pause"))
    printer = entry.printer
    if command == "start":
        await start_selected(farm, entry)
    elif command == "cancel":
        control.cancel(entry)
    elif command == "restart":
        if printer.state != _S.PAUSED:
            raise FarmctlError("only a paused print can be restarted", 409)
        printer.cancel()
        await _wait_for_ready(entry)
        await start_selected(farm, entry)
    else:
        action = body.get("action", "toggle")
        if action not in ("pause", "resume", "toggle"):
            raise FarmctlError(f"unknown pause action {action!r}; known: pause, resume, toggle")
        if action == "toggle":
            action = "pause" if printer.state == _S.PRINTING else "resume"
        (control.pause if action == "pause" else control.resume)(entry)
    return no_content()


async def _wait_for_ready(entry: FarmPrinter) -> None:
    deadline = time.monotonic() + RESTART_WAIT
    while entry.printer.state == _S.CANCELLING and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if entry.printer.state != _S.OPERATIONAL:
        raise FarmctlError(f"the cancelled print did not end in time; the printer is {state_text(entry.printer)}", 409)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/job", job_get),
        web.post(prefix + "/api/job", job_post),
    ])
