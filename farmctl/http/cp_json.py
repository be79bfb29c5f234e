"""Continuous Print's JSON, built from farmctl's records: the plugin's key names and texts live here.

The queue and the store hand out frozen records in farmctl's own terms; this module alone knows
how the plugin spells them (``set_``, ``acquired``, ``IN_ORDER``, "Idle (awaiting printable Job)").
"""

from __future__ import annotations

import weakref
from dataclasses import asdict
from typing import Any

from farmctl.farm.farm import MissingFiles
from farmctl.farm.driver_status import MAX_START_ATTEMPTS, DriverState, DriverStatus
from farmctl.queue import AddedSet, Automation, ExportResult, QueueSnapshot
from farmctl.store import JobRecord, QueueRecord, RunRecord, SetRecord, Strategy

INIT, NORMAL, NEEDS_ACTION, ERROR = "INIT", "NORMAL", "NEEDS_ACTION", "ERROR"
"""Continuous Print's statusType values."""

STATUS: dict[DriverState, tuple[str, str]] = {
    DriverState.INACTIVE: ("Inactive (click Start Managing)", INIT),
    DriverState.WAITING_FOR_PRINTER: ("Waiting for printer to be ready", NORMAL),
    DriverState.IDLE: ("Idle (awaiting printable Job)", NORMAL),
    DriverState.AWAITING_MATERIAL: ("Awaiting material", NEEDS_ACTION),
    DriverState.FETCHING: ("Fetching the file from another node", NORMAL),  # farmctl's own: nodes share uploads
    DriverState.AWAITING_SD_CARD: ("Awaiting SD card", NEEDS_ACTION),
    DriverState.STARTING: ("Running pre-print script", NORMAL),
    DriverState.START_FAILED: ("Start attempt failed", ERROR),
    DriverState.FAILED_TO_START: ("Failed to start; too many attempts", ERROR),
    DriverState.PRINTING: ("Printing", NORMAL),
    DriverState.PAUSED: ("Paused", NEEDS_ACTION),
    DriverState.COOLING_DOWN: ("Cooling down", NORMAL),
    DriverState.CLEARING_BED: ("Clearing bed", NORMAL),
    DriverState.FINISHING: ("Finishing up", NORMAL),
}
"""What the plugin shows in state/get for each driver state (2.4.1's driver.py): text and statusType."""

_STRATEGY_SHOWN = {Strategy.LINEAR: "IN_ORDER"}  # state/get shows LINEAR as IN_ORDER; queues/get as LINEAR


def _material(key: str | None) -> str:
    """A material key as the plugin shows it: "PLA_red_#ff0000" -> "PLA (red)"."""
    if key is None:
        return "nothing"
    parts = key.split("_")
    return f"{parts[0]} ({parts[1]})" if len(parts) > 1 else key


def status_text(status: DriverStatus) -> str:
    state = status.state
    if state is DriverState.INACTIVE:
        if status.reason:
            return f"Inactive: {status.reason}"
        if status.printing_unmanaged:
            return "Inactive (active print continues unmanaged)"
    if state is DriverState.START_FAILED:
        return f"Start attempt failed ({status.attempt}/{MAX_START_ATTEMPTS})"
    if state is DriverState.AWAITING_SD_CARD and status.reason:
        return f"Awaiting SD card: {status.reason}"
    if state is DriverState.AWAITING_MATERIAL and status.need is not None:
        need = status.need
        return f"Need {_material(need.wanted)} in tool {need.tool}, but {_material(need.loaded)} is loaded"
    return STATUS[state][0]


def status_type(status: DriverStatus) -> str:
    if status.state is DriverState.INACTIVE and (status.reason or status.printing_unmanaged):
        return NEEDS_ACTION
    return STATUS[status.state][1]


def queue_json(queue: QueueRecord) -> dict[str, Any]:
    """A queues/get entry."""
    return {"name": queue.name, "addr": queue.addr, "strategy": queue.strategy.value}


def set_json(item: SetRecord, missing: MissingFiles | None = None) -> dict[str, Any]:
    """``missing``: the files found absent, when the caller looked (adds ``missing_file``)."""
    record = {
        "path": item.path, "count": item.count, "metadata": item.metadata, "materials": list(item.materials),
        "profiles": list(item.profiles), "id": item.id, "rank": item.rank, "sd": item.sd,
        "remaining": item.remaining, "completed": item.completed,
    }
    if missing is not None:
        record["missing_file"] = (item.sd, item.path) in missing
    return record


def job_json(job: JobRecord, missing: MissingFiles | None = None) -> dict[str, Any]:
    return {
        "queue": job.queue, "name": job.name, "count": job.count, "draft": job.draft,
        "sets": [set_json(s, missing) for s in job.sets], "created": job.created, "id": job.id,
        "remaining": job.remaining, "acquired": job.acquired_by is not None,
    }


def added_set_json(added: AddedSet, missing: MissingFiles | None = None) -> dict[str, Any]:
    """The set/add response."""
    return {"job_id": added.job_id, "set_": set_json(added.set, missing)}


def run_json(run: RunRecord) -> dict[str, Any]:
    """A history/get row."""
    return {
        "start": run.start, "end": run.end, "result": None if run.result is None else run.result.value,
        "queue_name": run.queue_name, "job_name": run.job_name, "set_path": run.set_path, "run_id": run.id,
        "movie_path": run.movie_path, "thumb_path": run.thumb_path,
    }


def export_json(result: ExportResult) -> dict[str, Any]:
    """The job/export response."""
    return {"paths": list(result.paths), "errors": list(result.errors)}


def automation_json(automation: Automation) -> dict[str, Any]:
    """The automation/get response."""
    return {
        "scripts": automation.scripts,
        "preprocessors": automation.preprocessors,
        "events": {event: [{"script": h.script, "preprocessor": h.preprocessor} for h in hooks]
                   for event, hooks in automation.events.items()},
        "settings": asdict(automation.options),
    }


_BUILT: weakref.WeakKeyDictionary[QueueSnapshot, dict[tuple[str | None, MissingFiles], list[dict[str, Any]]]] = (
    weakref.WeakKeyDictionary())


def queues_json(snapshot: QueueSnapshot, printer: str | None, missing: MissingFiles) -> list[dict[str, Any]]:
    """state/get's ``queues``; ``active_set`` is the set ``printer`` prints now.

    With thousands of jobs, building this costs far more than serialising it, so the list is kept
    as long as its snapshot lives (the queue hands out the same snapshot until something changes).
    The list is shared with later callers: serialise it, do not modify it.
    """
    built = _BUILT.setdefault(snapshot, {})
    key = (printer, missing)
    if key not in built:
        built[key] = [
            {
                "name": contents.queue.name,
                "strategy": _STRATEGY_SHOWN[contents.queue.strategy],
                "jobs": [job_json(j, missing) for j in contents.jobs],
                "active_set": snapshot.active_set(printer, contents.queue.name),
                "addr": contents.queue.addr,
                "peers": {},
                "rank": contents.queue.rank,
            }
            for contents in snapshot.queues
        ]
    return built[key]
