"""What a finished print leaves for statistics, and the history's filtered pages and totals (see ``tx.Tx``).

``run_details`` holds per run what the ``runs`` row (Continuous Print's history) has no column
for: why a print failed, how much filament it used and how long the printer really printed. It
is deleted with its run. Filters are built here from typed values only, never from caller text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from farmctl.store.records import RunRecord, RunResult
from farmctl.store.runs import _run_record as run_record
from farmctl.store.sql import Row, Rows


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs: any of ``printers`` (empty: all), any of ``results`` (empty: all), started in [since, until)."""

    printers: tuple[str, ...] = ()
    results: tuple[RunResult, ...] = ()
    since: float | None = None
    until: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        if self.printers:
            clauses.append(f"r.printer IN ({','.join('?' * len(self.printers))})")
            params.extend(self.printers)
        if self.results:
            clauses.append(f"r.result IN ({','.join('?' * len(self.results))})")
            params.extend(result.value for result in self.results)
        if self.since is not None:
            clauses.append("r.start >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("r.start < ?")
            params.append(self.until)
        return " AND ".join(clauses), params


@dataclass(frozen=True, slots=True)
class RunDetails:
    reason: str
    filament_mm: float | None
    print_seconds: float | None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    run: RunRecord
    details: RunDetails | None


@dataclass(frozen=True, slots=True)
class ResultTotals:
    """Runs of one printer with one result (None: still printing)."""

    printer: str
    result: RunResult | None
    runs: int
    seconds: float
    filament_mm: float


@dataclass(frozen=True, slots=True)
class ReasonCount:
    printer: str
    reason: str
    runs: int


@dataclass(frozen=True, slots=True)
class DayTotals:
    day: str
    """The run's start date, ``YYYY-MM-DD`` in the server's local time."""
    result: RunResult | None
    runs: int
    seconds: float


_FROM = 'FROM runs r LEFT JOIN run_details d ON d.run_id = r.id'
_SECONDS = ('COALESCE(d.print_seconds, (SELECT MAX(v) FROM (SELECT 0.0 AS v UNION ALL '
            'SELECT COALESCE(r."end", ?) - r.start) AS clamped))')  # max(0, ...) in both dialects
"""Seconds printed: as measured when recorded, else from the run's times (up to now while it prints).
Its one parameter (now) comes first, before the filter's."""


def _details(row: Row) -> RunDetails | None:
    if row["d_run_id"] is None:
        return None
    return RunDetails(row["d_reason"], row["d_filament_mm"], row["d_print_seconds"])


def _result(text: str | None) -> RunResult | None:
    return None if text is None else RunResult(text)


class RunStatsRows(Rows):
    async def set_details(self, run_id: int, details: RunDetails) -> None:
        await self._sql.write(
            """INSERT INTO run_details (run_id, reason, filament_mm, print_seconds) VALUES (?, ?, ?, ?)
               ON CONFLICT (run_id) DO UPDATE SET reason = excluded.reason,
                   filament_mm = excluded.filament_mm, print_seconds = excluded.print_seconds""",
            (run_id, details.reason, details.filament_mm, details.print_seconds),
        )

    async def page(self, runs: RunFilter, limit: int, offset: int) -> list[HistoryRow]:
        where, params = runs.where()
        rows = await self._sql.all(
            f"""SELECT r.*, d.run_id AS d_run_id, d.reason AS d_reason, d.filament_mm AS d_filament_mm,
                       d.print_seconds AS d_print_seconds {_FROM}
                WHERE {where} ORDER BY r.start DESC, r.id DESC LIMIT ? OFFSET ?""",
            (*params, limit, offset))
        return [HistoryRow(run_record(row), _details(row)) for row in rows]

    async def count(self, runs: RunFilter) -> int:
        where, params = runs.where()
        row = await self._sql.one(f"SELECT COUNT(*) {_FROM} WHERE {where}", params)
        return int(row[0]) if row else 0

    async def result_totals(self, runs: RunFilter, now: float) -> list[ResultTotals]:
        where, params = runs.where()
        rows = await self._sql.all(
            f"""SELECT r.printer, r.result, COUNT(*) AS n, SUM({_SECONDS}) AS seconds,
                       SUM(COALESCE(d.filament_mm, 0)) AS filament {_FROM}
                WHERE {where} GROUP BY r.printer, r.result ORDER BY r.printer, r.result""",
            (now, *params))
        return [ResultTotals(r["printer"], _result(r["result"]), r["n"], float(r["seconds"] or 0.0),
                             float(r["filament"] or 0.0)) for r in rows]

    async def failure_reasons(self, runs: RunFilter) -> list[ReasonCount]:
        where, params = runs.where()
        rows = await self._sql.all(
            f"""SELECT r.printer, COALESCE(NULLIF(d.reason, ''), 'no reason recorded') AS reason, COUNT(*) AS n
                {_FROM} WHERE {where} AND r.result = 'failure'
                GROUP BY r.printer, 2 ORDER BY n DESC, r.printer, 2""", params)
        return [ReasonCount(r["printer"], r["reason"], r["n"]) for r in rows]

    async def day_totals(self, runs: RunFilter, now: float) -> list[DayTotals]:
        """Grouped here, not in SQL: the server's local date of a time is worded differently by each
        database (SQLite's ``date(..., 'localtime')``), and a day's runs are few."""
        where, params = runs.where()
        rows = await self._sql.all(
            f"SELECT r.start, r.result, {_SECONDS} AS seconds {_FROM} WHERE {where} ORDER BY r.start",
            (now, *params))
        days: dict[tuple[str, str | None], list[float]] = {}
        for r in rows:
            key = (datetime.fromtimestamp(r["start"]).date().isoformat(), r["result"])
            totals = days.setdefault(key, [0, 0.0])
            totals[0] += 1
            totals[1] += float(r["seconds"] or 0.0)
        return [DayTotals(day, _result(result), int(n), seconds)
                for (day, result), (n, seconds) in sorted(days.items(), key=lambda item: (item[0][0], item[0][1] or ""))]

    async def printers(self) -> list[str]:
        """Every printer that has a run in the history (also printers no longer configured)."""
        return [r[0] for r in await self._sql.all("SELECT DISTINCT printer FROM runs ORDER BY printer")]

