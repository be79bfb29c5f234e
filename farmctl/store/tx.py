"""Typed reads and writes on the queue tables, valid only inside ``Store.transaction()``.

No rules live here: the queue model decides, these methods only move rows. Column names passed
to the update methods are checked against a fixed list so no caller text ever becomes SQL.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiosqlite

from farmctl.store.appkeys import AppKeyRows
from farmctl.store.auth import AuthRows
from farmctl.store.printer_names import PrinterNameRows
from farmctl.store.printer_status import PrinterStatusRows
from farmctl.store.records import ARCHIVE_QUEUE, JobRecord, QueueRecord, SetRecord, Strategy
from farmctl.store.run_stats import RunStatsRows
from farmctl.store.runs import RunsAndAutomation
from farmctl.store.temperature_offsets import TemperatureOffsetRows

_JOB_COLUMNS = frozenset({"queue_id", "name", "rank", "count", "remaining", "draft", "acquired_by", "archived"})
_SET_COLUMNS = frozenset(
    {"path", "sd", "rank", "count", "remaining", "completed", "metadata", "materials", "profiles"}
)
_JSON_SET_COLUMNS = frozenset({"materials", "profiles"})

_JOB_SELECT = """SELECT j.id, q.name AS queue, j.name, j.rank, j.count, j.remaining, j.created,
    j.draft, j.acquired_by, j.archived FROM jobs j JOIN queues q ON q.id = j.queue_id"""


@functools.lru_cache(maxsize=4096)
def _json_tuple(text: str) -> tuple[Any, ...]:
    """A stored materials/profiles list. Few distinct values recur across thousands of sets, so a
    cache spares state/get a JSON parse per column per set (the tuple is immutable, safe to share)."""
    return tuple(json.loads(text))


def _set_record(row: aiosqlite.Row) -> SetRecord:
    return SetRecord(
        id=row["id"],
        job_id=row["job_id"],
        path=row["path"],
        sd=bool(row["sd"]),
        rank=row["rank"],
        count=row["count"],
        remaining=row["remaining"],
        completed=row["completed"],
        metadata=row["metadata"],
        materials=_json_tuple(row["materials"]),
        profiles=_json_tuple(row["profiles"]),
    )


def _assignments(fields: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, list[Any]]:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    values = [json.dumps(list(v)) if k in _JSON_SET_COLUMNS else v for k, v in fields.items()]
    return ", ".join(f"{k} = ?" for k in fields), values


class Tx(RunsAndAutomation, RunStatsRows, AuthRows, AppKeyRows, PrinterStatusRows, PrinterNameRows, TemperatureOffsetRows):
    """The open transaction's view of the database."""

    async def change_marker(self) -> tuple[int, int]:
        """Differs whenever committed data may have changed since the last reading: this
        connection's writes (``total_changes()``) or another connection's (``data_version``)."""
        own = await self._one("SELECT total_changes()")
        other = await self._one("PRAGMA data_version")
        assert own is not None and other is not None
        return int(own[0]), int(other[0])

    # Queues

    async def queues(self) -> list[QueueRecord]:
        rows = await self._all("SELECT * FROM queues ORDER BY rank, id")
        return [
            QueueRecord(r["id"], r["name"], r["rank"], r["addr"], Strategy(r["strategy"])) for r in rows
        ]

    async def queue(self, name: str) -> QueueRecord | None:
        return next((q for q in await self.queues() if q.name == name), None)

    async def insert_queue(self, name: str, rank: float, addr: str | None, strategy: Strategy) -> int:
        cur = await self._write(
            "INSERT INTO queues (name, rank, addr, strategy) VALUES (?, ?, ?, ?)",
            (name, rank, addr, strategy.value),
        )
        return int(cur.lastrowid or 0)

    async def update_queue(self, queue_id: int, rank: float, addr: str | None, strategy: Strategy) -> None:
        await self._write(
            "UPDATE queues SET rank = ?, addr = ?, strategy = ? WHERE id = ?",
            (rank, addr, strategy.value, queue_id),
        )

    async def delete_queue(self, queue_id: int) -> None:
        await self._write("DELETE FROM queues WHERE id = ?", (queue_id,))

    async def count_jobs(self, queue_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM jobs WHERE queue_id = ?", (queue_id,))
        return int(row[0]) if row else 0

    # Jobs

    async def _jobs(self, where: str, params: Sequence[Any]) -> list[JobRecord]:
        rows = await self._all(f"{_JOB_SELECT} WHERE {where} ORDER BY q.rank, j.rank, j.id", params)
        if not rows:
            return []
        by_job: dict[int, list[SetRecord]] = {r["id"]: [] for r in rows}
        # The same WHERE as a subquery, not one bound id per job: no SQLITE_MAX_VARIABLE_NUMBER
        # limit (32766 in many builds) on the number of jobs a queue can show.
        sets = await self._all(
            f"""SELECT * FROM sets WHERE job_id IN
                (SELECT j.id FROM jobs j JOIN queues q ON q.id = j.queue_id WHERE {where})
                ORDER BY rank, id""", params)
        for s in sets:
            by_job[s["job_id"]].append(_set_record(s))
        return [
            JobRecord(
                id=r["id"],
                queue=r["queue"],
                name=r["name"],
                rank=r["rank"],
                count=r["count"],
                remaining=r["remaining"],
                created=r["created"],
                draft=bool(r["draft"]),
                acquired_by=r["acquired_by"],
                archived=bool(r["archived"]),
                sets=tuple(by_job[r["id"]]),
            )
            for r in rows
        ]

    async def job(self, job_id: int) -> JobRecord | None:
        found = await self._jobs("j.id = ?", (job_id,))
        return found[0] if found else None

    async def jobs_in(self, queue_id: int) -> list[JobRecord]:
        return await self._jobs("j.queue_id = ?", (queue_id,))

    async def jobs_page(self, queue_id: int, limit: int, offset: int) -> list[JobRecord]:
        """One page of a queue's jobs in queue order (a long queue is shown a page at a time)."""
        return await self._jobs(
            "j.id IN (SELECT id FROM jobs WHERE queue_id = ? ORDER BY rank, id LIMIT ? OFFSET ?)",
            (queue_id, limit, offset))

    async def printable_jobs(self, queue_names: Iterable[str]) -> list[JobRecord]:
        """Jobs that may print, best first: not draft, not archived, copies left."""
        names = [n for n in queue_names if n != ARCHIVE_QUEUE]
        if not names:
            return []
        marks = ",".join("?" * len(names))
        return await self._jobs(
            f"q.name IN ({marks}) AND j.draft = 0 AND j.archived = 0 AND j.remaining > 0", names
        )

    async def job_ranks(self, queue_id: int) -> list[tuple[int, float]]:
        rows = await self._all("SELECT id, rank FROM jobs WHERE queue_id = ? ORDER BY rank, id", (queue_id,))
        return [(r["id"], r["rank"]) for r in rows]

    async def insert_job(
        self, queue_id: int, name: str, rank: float, count: int, remaining: int, created: int, draft: bool
    ) -> int:
        cur = await self._write(
            """INSERT INTO jobs (queue_id, name, rank, count, remaining, created, draft)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (queue_id, name, rank, count, remaining, created, int(draft)),
        )
        return int(cur.lastrowid or 0)

    async def update_job(self, job_id: int, **fields: Any) -> None:
        if fields:
            assignments, values = _assignments(fields, _JOB_COLUMNS)
            await self._write(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values, job_id))

    async def delete_job(self, job_id: int) -> None:
        await self._write("DELETE FROM jobs WHERE id = ?", (job_id,))

    # Sets

    async def local_set_paths(self) -> list[str]:
        """Every file a set names on the host (not on a printer's SD card), each once."""
        return [row[0] for row in await self._all("SELECT DISTINCT path FROM sets WHERE sd = 0")]

    async def set(self, set_id: int) -> SetRecord | None:
        row = await self._one("SELECT * FROM sets WHERE id = ?", (set_id,))
        return None if row is None else _set_record(row)

    async def max_set_rank(self, job_id: int) -> float | None:
        row = await self._one("SELECT MAX(rank) FROM sets WHERE job_id = ?", (job_id,))
        return None if row is None or row[0] is None else float(row[0])

    async def insert_set(
        self,
        job_id: int,
        *,
        path: str,
        sd: bool,
        rank: float,
        count: int,
        remaining: int,
        completed: int,
        metadata: str | None,
        materials: Sequence[str | None],
        profiles: Sequence[str],
    ) -> int:
        cur = await self._write(
            """INSERT INTO sets (job_id, path, sd, rank, count, remaining, completed, metadata,
               materials, profiles) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                job_id, path, int(sd), rank, count, remaining, completed, metadata,
                json.dumps(list(materials)), json.dumps(list(profiles)),
            ),
        )
        return int(cur.lastrowid or 0)

    async def update_set(self, set_id: int, **fields: Any) -> None:
        if fields:
            assignments, values = _assignments(fields, _SET_COLUMNS)
            await self._write(f"UPDATE sets SET {assignments} WHERE id = ?", (*values, set_id))

    async def delete_set(self, set_id: int) -> None:
        await self._write("DELETE FROM sets WHERE id = ?", (set_id,))

    async def refill_sets(self, job_id: int) -> None:
        """Start the job's next pass: every set owes its full count again."""
        await self._write("UPDATE sets SET remaining = count, completed = 0 WHERE job_id = ?", (job_id,))
