"""The one place that runs statements: every row class of the store speaks through an ``Sql``.

The statements themselves are plain SQL with ``?`` placeholders and ``RETURNING id`` for new
rows, which SQLite (3.35+) and PostgreSQL both understand once the placeholders are numbered;
what differs between dialects (placeholders, how a reader learns that data changed) lives behind
this small interface, so a second backend is a second ``Sql`` and leaves the row classes alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from farmctl.errors import FarmctlError
from farmctl.store.dialect import LockStrength

import sqlite3

import aiosqlite

Row = Mapping[str, Any]
"""A result row, read by column name."""


class ConstraintViolation(Exception):
    """A statement broke the schema's rules (a CHECK, UNIQUE or foreign key), whichever the backend;
    the transaction it ran in is rolled back."""


class DatabaseBusy(FarmctlError):
    """Another process holds the database's write lock (a backup, sqlite3 by hand): try again later."""

    def __init__(self, where: str) -> None:
        super().__init__(f"the queue database {where} is locked by another process; nothing was changed, "
                         "try again in a moment", 503)


class Sql(Protocol):
    """Statements inside one open transaction."""

    wrote: bool
    """Whether a statement of this transaction changed a row (a queue change is announced only then)."""

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT/UPDATE/DELETE; the number of rows it changed."""
        ...

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an ``INSERT ... RETURNING id``; the new row's id."""
        ...

    async def change_marker(self) -> tuple[int, ...]:
        """A value that differs whenever committed data may have changed since it was last read."""
        ...

    def row_lock(self, strength: LockStrength, *, skip_locked: bool = False) -> str:
        """The clause that makes a ``SELECT`` lock the rows it reads, on a backend that locks rows;
        empty where the transaction itself excludes every other writer."""
        ...


class SqliteSql:
    """``Sql`` over one aiosqlite connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.wrote = False

    async def _execute(self, sql: str, params: Sequence[Any]) -> aiosqlite.Cursor:
        try:
            return await self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from exc

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = await self._execute(sql, params)
        return list(await cur.fetchall())

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        cur = await self._execute(sql, params)
        return await cur.fetchone()

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self._execute(sql, params)
        if cur.rowcount > 0:
            self.wrote = True
        return max(0, cur.rowcount)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self._execute(sql, params)
        row = await cur.fetchone()
        await cur.close()
        self.wrote = True
        return int(row[0])

    async def change_marker(self) -> tuple[int, ...]:
        """This connection's writes (``total_changes()``) and another connection's (``data_version``)."""
        own = await self.one("SELECT total_changes()")
        other = await self.one("PRAGMA data_version")
        assert own is not None and other is not None
        return int(own[0]), int(other[0])

    def row_lock(self, strength: LockStrength, *, skip_locked: bool = False) -> str:
        return ""  # BEGIN IMMEDIATE already holds the only write lock SQLite has


class Rows:
    """Base of the row classes: each is one table's (or one topic's) typed reads and writes."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
