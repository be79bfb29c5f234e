"""Rows of queues, jobs and sets (see ``tx.Tx``). No rules live here: the queue model decides.

A set's columns are its ``SetFields``: the column list, the row mapping and the update check all
follow that one definition. Column names passed to the update methods are checked against a
fixed list, so no caller text ever becomes SQL.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from farmctl.store.copies import CopyRows
from farmctl.store.records import (
    ARCHIVE_QUEUE, SET_FIELDS, JobRecord, QueueRecord, SetFields, SetRecord, Strategy,
)
from farmctl.store.sql import Row, Rows, Sql

_JOB_COLUMNS = frozenset({"queue_id", "name", "rank", "count", "remaining", "draft", "archived"})
_SET_COLUMNS = frozenset(SET_FIELDS) | {"rank"}
_JSON_SET_COLUMNS = frozenset({"materials", "profiles"})
_BOOL_SET_COLUMNS = frozenset({"sd"})

# Who holds the job is the printer of its latest open run: read, never stored, so a claim writes
# no job row (claims of one job's copies on several nodes would queue behind that row's lock).
# (One grouped pass over the open runs, not a lookup per job: a queue of 10,000 jobs is read whole.)
_JOB_SELECT = """SELECT j.id, q.name AS queue, j.name, j.rank, j.count, j.remaining, j.created, j.draft,
    held.printer AS acquired_by, j.archived FROM jobs j JOIN queues q ON q.id = j.queue_id
    LEFT JOIN (SELECT r.job_id, r.printer FROM runs r WHERE r.id IN
               (SELECT MAX(id) FROM runs WHERE result IS NULL GROUP BY job_id)) held ON held.job_id = j.id"""


@functools.lru_cache(maxsize=4096)
def _json_tuple(text: str) -> tuple[Any, ...]:
    """A stored materials/profiles list. Few distinct values recur across thousands of sets, so a
    cache spares a JSON parse per column per set (the tuple is immutable, safe to share)."""
    return tuple(json.loads(text))


def _from_column(name: str, value: Any) -> Any:
    if name in _JSON_SET_COLUMNS:
        return _json_tuple(value)
    if name in _BOOL_SET_COLUMNS:
        return bool(value)
    return value


def _to_column(name: str, value: Any) -> Any:
    if name in _JSON_SET_COLUMNS:
        return json.dumps(list(value))
    if name in _BOOL_SET_COLUMNS:
        return int(value)
    return value


def _set_record(row: Row) -> SetRecord:
    return SetRecord(*(_from_column(name, row[name]) for name in SET_FIELDS),
                     id=row["id"], job_id=row["job_id"], rank=row["rank"])


def _assignments(changes: Mapping[str, Any], allowed: frozenset[str]) -> tuple[str, list[Any]]:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    return ", ".join(f"{k} = ?" for k in changes), [_to_column(k, v) for k, v in changes.items()]


class QueueRows(Rows):
    async def all(self) -> list[QueueRecord]:
        rows = await self._sql.all("SELECT * FROM queues ORDER BY rank, id")
        return [QueueRecord(r["id"], r["name"], r["rank"], r["addr"], Strategy(r["strategy"])) for r in rows]

    async def named(self, name: str) -> QueueRecord | None:
        return next((q for q in await self.all() if q.name == name), None)

    async def insert(self, name: str, rank: float, addr: str | None, strategy: Strategy) -> int:
        return await self._sql.insert(
            "INSERT INTO queues (name, rank, addr, strategy) VALUES (?, ?, ?, ?) RETURNING id",
            (name, rank, addr, strategy.value),
        )

    async def update(self, queue_id: int, rank: float, addr: str | None, strategy: Strategy) -> None:
        await self._sql.write(
            "UPDATE queues SET rank = ?, addr = ?, strategy = ? WHERE id = ?", (rank, addr, strategy.value, queue_id)
        )

    async def delete(self, queue_id: int) -> None:
        await self._sql.write("DELETE FROM queues WHERE id = ?", (queue_id,))


class JobRows(Rows):
    async def _select(self, where: str, params: Sequence[Any]) -> list[JobRecord]:
        rows = await self._sql.all(f"{_JOB_SELECT} WHERE {where} ORDER BY q.rank, j.rank, j.id", params)
        if not rows:
            return []
        by_job: dict[int, list[SetRecord]] = {r["id"]: [] for r in rows}
        # The same WHERE as a subquery, not one bound id per job: no limit on the number of bound
        # variables (32766 in many SQLite builds) caps the number of jobs a queue can show.
        sets = await self._sql.all(
            f"""SELECT * FROM sets WHERE job_id IN
                (SELECT j.id FROM jobs j JOIN queues q ON q.id = j.queue_id WHERE {where})
                ORDER BY rank, id""", params)
        for s in sets:
            by_job[s["job_id"]].append(_set_record(s))
        return [
            JobRecord(
                id=r["id"], queue=r["queue"], name=r["name"], rank=r["rank"], count=r["count"],
                remaining=r["remaining"], created=r["created"], draft=bool(r["draft"]),
                acquired_by=r["acquired_by"], archived=bool(r["archived"]), sets=tuple(by_job[r["id"]]),
            )
            for r in rows
        ]

    async def get(self, job_id: int) -> JobRecord | None:
        found = await self._select("j.id = ?", (job_id,))
        return found[0] if found else None

    async def named(self, name: str) -> list[JobRecord]:
        """Jobs of this name in any queue, in queue order."""
        return await self._select("j.name = ?", (name,))

    async def in_queue(self, queue_id: int) -> list[JobRecord]:
        return await self._select("j.queue_id = ?", (queue_id,))

    async def page(self, queue_id: int, limit: int, offset: int) -> list[JobRecord]:
        """One page of a queue's jobs in queue order (a long queue is shown a page at a time)."""
        return await self._select(
            "j.id IN (SELECT id FROM jobs WHERE queue_id = ? ORDER BY rank, id LIMIT ? OFFSET ?)",
            (queue_id, limit, offset))

    async def count_in(self, queue_id: int) -> int:
        row = await self._sql.one("SELECT COUNT(*) FROM jobs WHERE queue_id = ?", (queue_id,))
        return int(row[0]) if row else 0

    async def printable(self, queue_names: Iterable[str]) -> list[JobRecord]:
        """Jobs that may print, best first: not draft, not archived, copies left."""
        names = [n for n in queue_names if n != ARCHIVE_QUEUE]
        if not names:
            return []
        marks = ",".join("?" * len(names))
        return await self._select(f"q.name IN ({marks}) AND j.draft = 0 AND j.archived = 0 AND j.remaining > 0",
                                  names)

    async def ranks(self, queue_id: int) -> list[tuple[int, float]]:
        rows = await self._sql.all("SELECT id, rank FROM jobs WHERE queue_id = ? ORDER BY rank, id", (queue_id,))
        return [(r["id"], r["rank"]) for r in rows]

    async def insert(self, queue_id: int, name: str, rank: float, count: int, remaining: int, created: int,
                     draft: bool) -> int:
        return await self._sql.insert(
            """INSERT INTO jobs (queue_id, name, rank, count, remaining, created, draft)
               VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (queue_id, name, rank, count, remaining, created, int(draft)),
        )

    async def update(self, job_id: int, **changes: Any) -> None:
        if changes:
            assignments, values = _assignments(changes, _JOB_COLUMNS)
            await self._sql.write(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values, job_id))

    async def delete(self, job_id: int) -> None:
        await self._sql.write("DELETE FROM jobs WHERE id = ?", (job_id,))



class SetRows(Rows):
    """A change to a set's ``remaining`` tells ``copies``, which rebalances its free copies at commit."""

    def __init__(self, sql: Sql, copies: CopyRows) -> None:
        super().__init__(sql)
        self._copies = copies

    async def local_paths(self) -> list[str]:
        """Every file a set names on the host (not on a printer's SD card), each once."""
        return [row[0] for row in await self._sql.all("SELECT DISTINCT path FROM sets WHERE sd = 0")]

    async def get(self, set_id: int) -> SetRecord | None:
        row = await self._sql.one("SELECT * FROM sets WHERE id = ?", (set_id,))
        return None if row is None else _set_record(row)

    async def max_rank(self, job_id: int) -> float | None:
        row = await self._sql.one("SELECT MAX(rank) FROM sets WHERE job_id = ?", (job_id,))
        return None if row is None or row[0] is None else float(row[0])

    async def insert(self, job_id: int, rank: float, fields: SetFields) -> int:
        names = ", ".join(SET_FIELDS)
        marks = ", ".join("?" * len(SET_FIELDS))
        values = [_to_column(name, getattr(fields, name)) for name in SET_FIELDS]
        set_id = await self._sql.insert(
            f"INSERT INTO sets (job_id, rank, {names}) VALUES (?, ?, {marks}) RETURNING id", (job_id, rank, *values)
        )
        self._copies.touched([set_id])
        return set_id

    async def replace(self, set_id: int, rank: float, fields: SetFields) -> None:
        await self.update(set_id, rank=rank, **{name: getattr(fields, name) for name in SET_FIELDS})

    async def update(self, set_id: int, **changes: Any) -> None:
        if changes:
            assignments, values = _assignments(changes, _SET_COLUMNS)
            await self._sql.write(f"UPDATE sets SET {assignments} WHERE id = ?", (*values, set_id))
            if "remaining" in changes:
                self._copies.touched([set_id])

    async def delete(self, set_id: int) -> None:
        await self._sql.write("DELETE FROM sets WHERE id = ?", (set_id,))

    async def refill(self, job_id: int) -> None:
        """Start the job's next pass: every set owes its full count again."""
        await self._sql.write("UPDATE sets SET remaining = count, completed = 0 WHERE job_id = ?", (job_id,))
        self._copies.touched(r["id"] for r in await self._sql.all("SELECT id FROM sets WHERE job_id = ?", (job_id,)))
