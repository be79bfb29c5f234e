"""When each queued copy is expected to start and end, and on which printer.

A replay of the queue in memory, with no I/O and the time passed in: each printer becomes free
at a known moment (now when idle, when its print is expected to end when printing), takes the
copy the driver would claim then (the same order and the same profile and material rules as
``counting.Counting.claim``), and is free again after the file's estimated print time plus a
changeover (the bed cleared by a person, the next print started). Copies already printing are
the open runs, and they are consumed when their printer is expected to finish, so the next
pass of a job (its sets refilled) starts at the right moment, as the counting rules say.

Every copy is assumed to succeed. The replay stops after ``max_copies`` copies or past the
``horizon``, and says so, so a queue of 10,000 jobs costs a bounded amount of work.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from farmctl.queue.counting import materials_match, profile_allows
from farmctl.store import JobRecord, SetRecord

DEFAULT_MAX_COPIES = 2000
DEFAULT_HORIZON = 14 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Lane:
    """A printer as the forecast sees it."""

    printer: str
    free_at: float
    """When it can take its next copy (its current print's expected end, or now)."""
    profile: str | None = None
    materials: Sequence[str | None] | None = None
    running_set: int | None = None
    """The set whose copy it prints now (its open run), consumed at ``free_at``."""


@dataclass(frozen=True, slots=True)
class PlannedCopy:
    printer: str
    job_id: int
    job_name: str
    set_id: int
    path: str
    start: float
    end: float
    running: bool
    """Printing now (its start is when it started, if known)."""
    estimated: bool
    """False when the file has no analysis (missing, on an SD card): its length is a guess."""


@dataclass(frozen=True, slots=True)
class Forecast:
    copies: tuple[PlannedCopy, ...]
    unplaced: tuple[int, ...]
    """Ids of sets with copies owed that no printer in the forecast may print (profile, materials)."""
    truncated: bool
    """The replay stopped at ``max_copies`` or the horizon: more copies are owed after the last one."""
    finish: float | None
    """When the last planned copy ends."""


@dataclass(slots=True)
class _Set:
    record: SetRecord
    remaining: int


@dataclass(slots=True, eq=False)
class _Job:
    record: JobRecord
    remaining: int
    sets: list[_Set] = field(default_factory=list)


def plan(
    jobs: Sequence[JobRecord],
    lanes: Sequence[Lane],
    durations: Mapping[str, float],
    now: float,
    *,
    changeover: float = 0.0,
    unknown_duration: float = 3600.0,
    running_since: Mapping[str, float] | None = None,
    max_copies: int = DEFAULT_MAX_COPIES,
    horizon: float = DEFAULT_HORIZON,
) -> Forecast:
    """Replay the claims of ``lanes`` over ``jobs`` (printable, best first), from ``now``.

    ``durations``: expected seconds per local set path (absent: ``unknown_duration``, marked as
    not estimated). ``running_since``: when each printer's current copy started, for its bar.
    """
    live = [_job(job) for job in jobs if not job.draft and job.remaining > 0 and job.sets]
    by_set = {item.record.id: (job, item) for job in live for item in job.sets}
    reserved: dict[int, int] = {}
    copies: list[PlannedCopy] = []
    events: list[tuple[float, int, int, int | None]] = []  # (when, order, lane, set ending then or None)
    order = itertools.count()
    for number, lane in enumerate(lanes):
        ending = lane.running_set if lane.running_set in by_set else None
        if ending is not None:
            reserved[ending] = reserved.get(ending, 0) + 1
            job, item = by_set[ending]
            started = (running_since or {}).get(lane.printer, now)
            copies.append(_copy(lane, job, item, started, max(lane.free_at, now), durations, unknown_duration))
        heapq.heappush(events, (max(lane.free_at, now), next(order), number, ending))
    idle: list[int] = []
    truncated = False
    while events:
        at, _, number, ending = heapq.heappop(events)
        lane = lanes[number]
        if ending is not None:
            # The copy ends: it is counted, every idle driver looks again (the farm wakes them all),
            # and this printer claims once its plate is cleared.
            _consume(live, *by_set[ending], reserved)
            for waiting in idle:
                heapq.heappush(events, (at, next(order), waiting, None))
            idle.clear()
            heapq.heappush(events, (at + changeover, next(order), number, None))
            continue
        picked = _pick(live, reserved, lane)
        if picked is None:
            idle.append(number)  # until some copy ends: a job's next pass may hold work for it
            continue
        if len(copies) >= max_copies or at - now > horizon:
            truncated = True
            break
        job, item = picked
        reserved[item.record.id] = reserved.get(item.record.id, 0) + 1
        planned = _copy(lane, job, item, at, None, durations, unknown_duration)
        copies.append(planned)
        heapq.heappush(events, (planned.end, next(order), number, item.record.id))
    planned_sets = {c.set_id for c in copies}
    unplaced = () if truncated else tuple(
        item.record.id for job in live for item in job.sets
        if item.remaining > reserved.get(item.record.id, 0) and item.record.id not in planned_sets)
    return Forecast(tuple(copies), unplaced, truncated, max((c.end for c in copies), default=None))


def _job(record: JobRecord) -> _Job:
    job = _Job(record, record.remaining)
    job.sets = [_Set(item, item.remaining) for item in record.sets]
    return job


def _pick(live: list[_Job], reserved: Mapping[int, int], lane: Lane) -> tuple[_Job, _Set] | None:
    for job in live:
        if job.remaining <= 0:
            continue
        for item in job.sets:
            free = item.remaining - reserved.get(item.record.id, 0)
            if free > 0 and profile_allows(item.record, lane.profile) and materials_match(item.record, lane.materials):
                return job, item
    return None


def _consume(live: list[_Job], job: _Job, item: _Set, reserved: dict[int, int]) -> None:
    """A copy ended well: the counting rules of ``counting.finish_run`` on the in-memory copy."""
    reserved[item.record.id] = max(0, reserved.get(item.record.id, 0) - 1)
    item.remaining = max(0, item.remaining - 1)
    if any(s.remaining > 0 for s in job.sets):
        return
    job.remaining = max(0, job.remaining - 1)
    if job.remaining > 0:
        for each in job.sets:
            each.remaining = each.record.count
    elif job in live:
        live.remove(job)


def _copy(lane: Lane, job: _Job, item: _Set, start: float, end: float | None,
          durations: Mapping[str, float], unknown_duration: float) -> PlannedCopy:
    """A copy from ``start``; ``end`` given for one printing now, else from the file's estimate."""
    known = not item.record.sd and item.record.path in durations
    running = end is not None
    if end is None:
        end = start + (durations[item.record.path] if known else unknown_duration)
    return PlannedCopy(lane.printer, job.record.id, job.record.name, item.record.id, item.record.path,
                       start, end, running, known)
