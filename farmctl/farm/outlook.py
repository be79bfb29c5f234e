"""The queue forecast for this farm: each printer's lane from its live state, each file's length
from its analysis, replayed by ``farmctl.queue.forecast``.

A printer takes part when its queue is managed; while none is, every connected printer does,
as if the operator pressed Start on all of them (the page says so). A printer printing is free
when its file's estimate, scaled by the share already printed, says; one waiting for a person
(bed clearing, paused) after one changeover.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from farmctl.farm.driver import DriverState
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.files import FileType
from farmctl.printer import PrinterState
from farmctl.queue.forecast import Forecast, Lane, plan
from farmctl.store import ARCHIVE_QUEUE

DEFAULT_CHANGEOVER = 120.0
"""Seconds between one copy's end and the next one's start on the same printer (a person clears the plate)."""
_WAITING = frozenset({DriverState.CLEARING_BED, DriverState.FINISHING, DriverState.COOLING_DOWN})
_CONNECTED = frozenset({PrinterState.OPERATIONAL, PrinterState.PRINTING, PrinterState.PAUSING,
                        PrinterState.PAUSED, PrinterState.CANCELLING})


@dataclass(frozen=True, slots=True)
class Outlook:
    forecast: Forecast
    now: float
    printers: tuple[str, ...]
    assumed_managed: bool
    """No printer's queue is managed: the forecast is as if every connected one were."""
    changeover: float


async def outlook(farm: Farm, changeover: float = DEFAULT_CHANGEOVER) -> Outlook:
    now = time.time()
    managed = [entry for entry in farm.printers.values() if entry.driver.active]
    assumed = not managed
    taking_part = managed or [entry for entry in farm.printers.values() if entry.printer.state in _CONNECTED]
    durations = await _durations(farm)
    queues = [q.name for q in await farm.model.settings.get_queues() if q.name != ARCHIVE_QUEUE]
    async with farm.model.db.read() as tx:
        jobs = await tx.jobs.printable(queues)
    lanes, since = [], {}
    for entry in taking_part:
        lane, started = await _lane(farm, entry, durations, now, changeover)
        lanes.append(lane)
        if started is not None:
            since[entry.name] = started
    forecast = plan(jobs, lanes, durations, now, changeover=changeover, running_since=since)
    return Outlook(forecast, now, tuple(entry.name for entry in taking_part), assumed, changeover)


async def _durations(farm: Farm) -> dict[str, float]:
    """Each stored file's estimated print time, from the cached analyses (one walk of the folder)."""
    listed = await farm.uploads.list(recursive=True)
    return {info.path: info.analysis.estimated_print_time for info in listed
            if info.type == FileType.MACHINECODE and info.analysis is not None}


async def _lane(farm: Farm, entry: FarmPrinter, durations: dict[str, float], now: float,
                changeover: float) -> tuple[Lane, float | None]:
    """The printer's lane, and when its current copy started (wall clock) if it prints one."""
    printer, driver = entry.printer, entry.driver
    loadout = driver.loadout
    profile, materials = loadout.profile, loadout.materials
    progress = printer.progress
    if printer.state in (PrinterState.PRINTING, PrinterState.PAUSING, PrinterState.PAUSED) and progress is not None:
        elapsed = progress.elapsed(time.monotonic())
        relative = farm.upload_name(progress.path)
        total = durations.get(relative) if relative is not None else None
        if total is None and progress.fraction > 0.01:
            total = elapsed / progress.fraction
        left = max(0.0, (total or 0.0) * (1.0 - progress.fraction))
        if printer.state != PrinterState.PRINTING:
            left += changeover  # paused: someone has to resume it
        run = await farm.model.counting.open_run(entry.name)
        running = run.set_id if run is not None and relative == run.set_path else None
        return Lane(entry.name, now + left, profile, materials, running), now - elapsed
    if driver.status.state in _WAITING:
        return Lane(entry.name, now + changeover, profile, materials), None
    return Lane(entry.name, now, profile, materials), None
