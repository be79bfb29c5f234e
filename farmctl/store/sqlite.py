"""The embedded backend: one SQLite file in WAL mode, one connection, ``BEGIN IMMEDIATE`` for writes.

A write transaction takes SQLite's write lock up front, so a read-then-write decision (which
copy to print next) cannot race another connection, whichever process holds it.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from farmctl.store.sql import DatabaseBusy, Sql, SqliteSql

_BUSY_VERSIONS = itertools.count(-1, -1)


class SqliteBackend:
    """One aiosqlite connection; it serves one transaction at a time, and tasks sharing it queue."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.where = str(path)
        self._lock = asyncio.Lock()
        # A connection of its own that only asks whether anyone committed; it never waits for a lock.
        self._watch = sqlite3.connect(path, timeout=0, isolation_level=None)

    @classmethod
    async def open(cls, path: Path, busy_timeout: float) -> SqliteBackend:
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            await _switch_to_wal(conn, busy_timeout)
            # FULL: a finished print's commit survives power loss, not only a process crash.
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path)

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()
        self._watch.close()

    def data_version(self) -> int:
        """SQLite answers from the WAL index in shared memory, on the caller's thread. A database
        busy recovering counts as changed."""
        try:
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return next(_BUSY_VERSIONS)

    @asynccontextmanager
    async def transaction(self, write: bool, lock_database: bool = True) -> AsyncIterator[Sql]:
        """``lock_database`` is moot: SQLite's only write lock is the database's."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise DatabaseBusy(self.path.name) from exc
                raise
            except BaseException:
                # Cancelled while waiting: the BEGIN still runs on the connection's thread. The
                # rollback queues behind it before the lock is given up, so no one inherits it.
                await self._conn.rollback()
                raise
            try:
                yield SqliteSql(self._conn)
                await self._conn.commit()
            except BaseException as exc:
                await self._conn.rollback()
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise DatabaseBusy(self.path.name) from exc
                raise

    async def has_table(self, sql: Sql, name: str) -> bool:
        return await sql.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    @staticmethod
    def ddl(statement: str) -> str:
        return statement  # the migrations are written in SQLite's dialect


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, after the busy timeout: another connection holds the lock."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or \
        "database is locked" in str(exc)


async def _switch_to_wal(conn: aiosqlite.Connection, busy_timeout: float) -> None:
    """``PRAGMA journal_mode = WAL``. SQLite does not wait out a lock for this switch as it does for
    statements, so nodes opening a new database at once are retried here until the busy timeout."""
    deadline = asyncio.get_running_loop().time() + busy_timeout
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)
