"""Which copy a printer prints next, and what a finished attempt consumes.

Concurrency design: copies are reserved per claim. An open run (result NULL) *is* the
reservation: a set offers ``remaining - open runs on it`` copies, so two printers serving one
queue can print the same job side by side but never the same copy. The store keeps those free
copies as rows (``store.copies``); a claim takes one and opens its run in one transaction. On
SQLite that is a ``BEGIN IMMEDIATE`` transaction, serialised across connections and processes;
on PostgreSQL it locks only the copy it takes (``FOR UPDATE SKIP LOCKED``), so the printers of
many nodes claim at once and none waits for a copy another is taking. ``acquired_by`` (for the
API) is the printer of the job's latest open run, read from the runs.

Crash safety: ``finish_run`` closes the run and decrements in one transaction, so either both
happened or neither did. ``recover_after_crash`` turns open runs into ``aborted`` and decrements
nothing: a copy that was printing when farmctl died is still owed exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.db import QueueDb, job_of
from farmctl.queue.validate import as_id
from farmctl.store import LOCAL_QUEUE, ConstraintViolation, JobRecord, RunRecord, RunResult, SetRecord, Tx


@dataclass(frozen=True, slots=True)
class Claim:
    """A copy reserved for one printer: print ``set.path``, then call ``finish_run(run.id, ...)``."""

    run: RunRecord
    job: JobRecord
    set: SetRecord


@dataclass(frozen=True, slots=True)
class WorkQuery:
    """What a printer could claim from: its queues, printer profile and loaded materials."""

    queues: tuple[str, ...]
    profile: str | None
    materials: tuple[str | None, ...] | None


def profile_allows(item: SetRecord, profile: str | None) -> bool:
    return not item.profiles or profile in item.profiles


def materials_match(item: SetRecord, loaded: Sequence[str | None] | None) -> bool:
    """None loaded = the printer does not track materials, so any set may print."""
    if loaded is None:
        return True
    for tool, wanted in enumerate(item.materials):
        if wanted is not None and (tool >= len(loaded) or loaded[tool] != wanted):
            return False
    return True


def first_mismatch(item: SetRecord, loaded: Sequence[str | None]) -> tuple[int, str, str | None] | None:
    """The first tool whose loaded material is not the one ``item`` wants: (tool, wanted, loaded)."""
    for tool, wanted in enumerate(item.materials):
        have = loaded[tool] if tool < len(loaded) else None
        if wanted is not None and have != wanted:
            return tool, wanted, have
    return None


def _printable(
    jobs: Iterable[JobRecord], reserved: Mapping[int, int], profile: str | None,
    materials: Sequence[str | None] | None,
) -> Iterator[tuple[JobRecord, SetRecord]]:
    """The sets with a copy no open run reserves that this printer may print, best first (queue,
    job and set order)."""
    for job in jobs:
        for item in job.sets:
            free = item.remaining - reserved.get(item.id, 0)
            if free > 0 and profile_allows(item, profile) and materials_match(item, materials):
                yield job, item


def _as_result(result: Any) -> RunResult:
    if isinstance(result, RunResult):
        return result
    try:
        return RunResult(str(result).lower())
    except ValueError:
        names = ", ".join(r.value for r in RunResult)
        raise FarmctlError(f"result must be one of {names}, not {result!r}") from None


class Counting:
    """Claiming copies and counting what a finished attempt consumes."""

    def __init__(self, db: QueueDb) -> None:
        self._db = db

    async def claim(
        self,
        printer: str,
        profile: str | None = None,
        *,
        queues: Sequence[str] = (LOCAL_QUEUE,),
        materials: Sequence[str | None] | None = None,
    ) -> Claim | None:
        """Reserve the next printable copy for ``printer``, or None when there is none for it.

        A set whose free copies other printers are taking at this instant is passed over for the
        next one; a copy is only ever taken by one claim."""
        busy = FarmctlError(f"printer {printer!r} already has a print in progress", status=409)
        async with self._db.claim() as tx:
            if await tx.runs.open(printer):
                raise busy
            jobs = await tx.jobs.printable(queues)
            for job, item in _printable(jobs, await tx.runs.open_per_set(), profile, materials):
                if not await tx.copies.take(item.id):
                    continue
                try:
                    run = await tx.runs.insert(
                        queue_name=job.queue, job_name=job.name, set_path=item.path, printer=printer,
                        start=self._db.clock(), job_id=job.id, set_id=item.id, node=self._db.node,
                    )
                except ConstraintViolation:  # a claim for the same printer committed meanwhile
                    raise busy from None
                return Claim(run, await job_of(tx, job.id), item)
            return None

    async def has_work(
        self, profile: str | None = None, *, queues: Sequence[str] = (LOCAL_QUEUE,),
        materials: Sequence[str | None] | None = None,
    ) -> bool:
        """Whether a claim would find a copy now (read only: nothing is reserved)."""
        return await self.next_set(profile, queues=queues, materials=materials) is not None

    async def next_set(
        self, profile: str | None = None, *, queues: Sequence[str] = (LOCAL_QUEUE,),
        materials: Sequence[str | None] | None = None,
    ) -> SetRecord | None:
        """The set a claim would take a copy of now (read only: nothing is reserved)."""
        async with self._db.read() as tx:
            jobs = await tx.jobs.printable(queues)
            picked = next(_printable(jobs, await tx.runs.open_per_set(), profile, materials), None)
        return picked[1] if picked is not None else None

    async def with_work(self, wanted: Mapping[str, WorkQuery]) -> set[str]:
        """Which of these printers a claim would find a copy for now, from one read for all of them."""
        if not wanted:
            return set()
        names = sorted({queue for query in wanted.values() for queue in query.queues})
        async with self._db.read() as tx:
            jobs, reserved = await tx.jobs.printable(names), await tx.runs.open_per_set()
        found = set()
        for printer, query in wanted.items():
            mine = [job for job in jobs if job.queue in query.queues]
            if next(_printable(mine, reserved, query.profile, query.materials), None) is not None:
                found.add(printer)
        return found

    async def waiting_for_material(
        self, profile: str | None, materials: Sequence[str | None] | None, *, queues: Sequence[str] = (LOCAL_QUEUE,),
    ) -> SetRecord | None:
        """The first set this printer could print but for its loaded materials (None: no such set,
        or the printer tracks no materials)."""
        if materials is None:
            return None
        async with self._db.read() as tx:
            jobs, reserved = await tx.jobs.printable(queues), await tx.runs.open_per_set()
        for _, item in _printable(jobs, reserved, profile, None):
            return None if materials_match(item, materials) else item
        return None

    async def withdraw(self, run_id: int) -> None:
        """Give back a claimed copy that never started printing: no history row, nothing consumed."""
        async with self._db.write() as tx:
            run = await tx.runs.get(run_id)
            if run is None or run.result is not None:
                raise FarmctlError(f"run {run_id} is not open", status=409)
            await tx.runs.delete_open(run_id)

    async def open_run(self, printer: str) -> RunRecord | None:
        """The run ``printer`` is printing now, if any."""
        async with self._db.read() as tx:
            runs = await tx.runs.open(printer)
        return runs[0] if runs else None

    async def finish_run(self, run_id: Any, result: Any) -> RunRecord:
        """Close an open run and apply the counting rules, all in one transaction.

        success: set.remaining -= 1, completed += 1. failure: remaining -= 1 (rule 4: a failed
        attempt consumes a count). cancelled/aborted: recorded, nothing consumed. When no set
        of the job has copies left, job.remaining -= 1 and, if some remain, the sets refill.
        """
        rid = as_id(run_id, "run id")
        outcome = _as_result(result)
        async with self._db.write() as tx:
            run = await tx.runs.get(rid)
            if run is None:
                raise FarmctlError(f"no run with id {rid}", status=404)
            if run.result is not None:
                raise FarmctlError(f"run {rid} already ended ({run.result.value})", status=409)
            await tx.runs.close(rid, outcome, self._db.clock())
            if outcome.consumes_copy:
                await _consume(tx, run, outcome)
            closed = await tx.runs.get(rid)
        assert closed is not None
        return closed

    async def settle_aborted_run(self, run_id: Any, result: Any) -> RunRecord:
        """A person says how an interrupted (aborted) print really ended; it then counts.

        Recovery cannot know whether the printer finished the copy while farmctl was down, so
        the copy stays owed until someone looks at the bed; this is how they say "it's done".
        """
        rid = as_id(run_id, "run id")
        outcome = _as_result(result)
        if not outcome.consumes_copy:
            raise FarmctlError("an aborted run can only be settled as success or failure")
        async with self._db.write() as tx:
            run = await tx.runs.get(rid)
            if run is None:
                raise FarmctlError(f"no run with id {rid}", status=404)
            if run.result is not RunResult.ABORTED:
                raise FarmctlError(f"run {rid} was not aborted", status=409)
            await tx.runs.settle_aborted(rid, outcome)
            await _consume(tx, run, outcome)
            settled = await tx.runs.get(rid)
        assert settled is not None
        return settled

    async def recover_after_crash(self) -> list[RunRecord]:
        """At start: mark every open run ``aborted`` (their jobs are no longer held); return those runs.

        Their copies stay owed (nothing is decremented). The returned runs name the printers
        whose print was interrupted, so the server can bring them back inactive and say why.
        """
        async with self._db.write() as tx:
            return await settle_open_runs(tx, await tx.runs.open(), self._db.clock())


async def settle_open_runs(tx: Tx, runs: Sequence[RunRecord], now: float) -> list[RunRecord]:
    """Close these open runs as ``aborted`` (each only if still open); nothing is consumed, so
    every copy stays owed (its copy is free again at commit). Returns the runs as now recorded."""
    for run in runs:
        await tx.runs.close(run.id, RunResult.ABORTED, now)
    return [r for r in [await tx.runs.get(run.id) for run in runs] if r is not None]


async def _consume(tx: Tx, run: RunRecord, outcome: RunResult) -> None:
    item = None if run.set_id is None else await tx.sets.get(run.set_id)
    if item is None:  # the set was deleted while printing: nothing left to count
        return
    await tx.sets.update(
        item.id,
        remaining=max(0, item.remaining - 1),
        completed=item.completed + (1 if outcome is RunResult.SUCCESS else 0),
    )
    job = await tx.jobs.get(item.job_id)
    if job is None or any(s.remaining > 0 for s in job.sets):
        return
    left = max(0, job.remaining - 1)
    await tx.jobs.update(job.id, remaining=left)
    if left > 0:
        await tx.sets.refill(job.id)

