"""The history as an operator reads it: filtered pages, and totals per printer and for the farm.

Success rate, hours printed, filament used and failures by reason come from the runs (one per
print attempt the queue made) and what each left in ``run_details`` when it ended.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.db import QueueDb
from farmctl.queue.validate import as_id, as_int
from farmctl.store import DayTotals, HistoryRow, ReasonCount, ResultTotals, RunDetails, RunFilter, RunResult

MAX_PAGE = 500
FARM = ""
"""The key of the whole farm's totals beside each printer's."""


@dataclass(frozen=True, slots=True)
class Totals:
    runs: int = 0
    success: int = 0
    failure: int = 0
    cancelled: int = 0
    aborted: int = 0
    printing: int = 0
    seconds: float = 0.0
    filament_mm: float = 0.0

    @property
    def ended(self) -> int:
        return self.success + self.failure + self.cancelled + self.aborted

    @property
    def success_rate(self) -> float | None:
        """Successes among ended prints; None before any print ended."""
        return self.success / self.ended if self.ended else None

    def add(self, row: ResultTotals) -> Totals:
        counts = {"success": self.success, "failure": self.failure, "cancelled": self.cancelled,
                  "aborted": self.aborted, "printing": self.printing}
        counts[row.result.value if row.result is not None else "printing"] += row.runs
        return Totals(self.runs + row.runs, seconds=self.seconds + row.seconds,
                      filament_mm=self.filament_mm + row.filament_mm, **counts)


@dataclass(frozen=True, slots=True)
class Statistics:
    totals: dict[str, Totals]
    """Per printer, and the farm under ``FARM``."""
    reasons: tuple[ReasonCount, ...]
    days: tuple[DayTotals, ...]


def run_filter(query: Mapping[str, Any]) -> RunFilter:
    """Filters as the page sends them: ``printer`` and ``result`` (comma-separated or repeated),
    ``since`` and ``until`` (epoch seconds, or dates ``YYYY-MM-DD``; until is inclusive of that day)."""
    printers = tuple(_values(query.get("printer")))
    results = []
    for text in _values(query.get("result")):
        try:
            results.append(RunResult(text.lower()))
        except ValueError:
            names = ", ".join(r.value for r in RunResult)
            raise FarmctlError(f"result must be one of {names}, not {text!r}") from None
    return RunFilter(printers, tuple(results), _moment(query.get("since"), "since", False),
                     _moment(query.get("until"), "until", True))


def _values(raw: Any) -> Iterable[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _moment(raw: Any, name: str, end_of_day: bool) -> float | None:
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise FarmctlError(f"{name} must be a date (YYYY-MM-DD) or epoch seconds, not {text!r}") from None
    if end_of_day:
        day += datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time()).timestamp()  # local midnight, as the page means it


class RunStatistics:
    """``model.statistics``: what ended prints leave, and the history read back with filters."""

    def __init__(self, db: QueueDb) -> None:
        self._db = db

    async def note_run(self, run_id: Any, *, reason: str = "", filament_mm: float | None = None,
                       print_seconds: float | None = None) -> None:
        """Keep what an ended print leaves for statistics (the queue driver calls this as it settles)."""
        details = RunDetails(reason[:500], None if filament_mm is None else max(0.0, filament_mm),
                             None if print_seconds is None else max(0.0, print_seconds))
        async with self._db.store.transaction() as tx:  # not a queue change: nobody needs waking
            await tx.run_stats.set_details(as_id(run_id, "run id"), details)

    async def history_page(self, runs: RunFilter, limit: Any = 50, offset: Any = 0) -> tuple[int, list[HistoryRow]]:
        """(how many runs match, one page of them, newest first)."""
        page = as_int(limit, "limit", minimum=1)
        if page > MAX_PAGE:
            raise FarmctlError(f"limit may be at most {MAX_PAGE}")
        skip = as_int(offset, "offset", minimum=0)
        async with self._db.read() as tx:
            return await tx.run_stats.count(runs), await tx.run_stats.page(runs, page, skip)

    async def statistics(self, runs: RunFilter) -> Statistics:
        now = self._db.clock()
        async with self._db.read() as tx:
            rows = await tx.run_stats.result_totals(runs, now)
            reasons = await tx.run_stats.failure_reasons(runs)
            days = await tx.run_stats.day_totals(runs, now)
        totals: dict[str, Totals] = {FARM: Totals()}
        for row in rows:
            totals[row.printer] = totals.get(row.printer, Totals()).add(row)
            totals[FARM] = totals[FARM].add(row)
        return Statistics(totals, tuple(reasons), tuple(days))

    async def history_printers(self) -> list[str]:
        async with self._db.read() as tx:
            return await tx.run_stats.printers()
