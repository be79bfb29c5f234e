"""The queue database: one SQLite file in WAL mode, migrated at open, written in transactions.

Every change runs inside ``Store.transaction()``, which takes SQLite's write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write decision (which copy to print next) cannot race
another connection, and commits or rolls back as one unit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from farmctl.errors import FarmctlError
from farmctl.store.migrations import LATEST_VERSION, MIGRATIONS
from farmctl.store.sql import SqliteSql
from farmctl.store.tx import Tx

log = logging.getLogger(__name__)
_BUSY_VERSIONS = itertools.count(-1, -1)

BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another process's lock before it is refused (every other transaction
of the farm queues behind it meanwhile, so this is also how long the API may stall)."""


class DatabaseBusy(FarmctlError):
    """Another process holds the database's write lock (a backup, sqlite3 by hand): try again later."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"the queue database {path.name} is locked by another process; nothing was changed, "
                         "try again in a moment", 503)


class Store:
    """An open queue database. Create with ``await Store.open(path)``; ``await close()`` at exit."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, version: int) -> None:
        self._conn = conn
        self._path = path
        self._version = version
        # A connection of its own that only asks whether anyone committed; it never waits for a lock.
        self._watch = sqlite3.connect(path, timeout=0, isolation_level=None)
        # One aiosqlite connection serves one transaction at a time; tasks sharing it queue here.
        self._lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def schema_version(self) -> int:
        return self._version

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """Open (creating if needed) and migrate; refuse a database newer than this code."""
        path = Path(path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a finished print's commit survives power loss, not only a process crash.
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
            version = await _migrate(conn, path)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path, version)

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()
        self._watch.close()

    def data_version(self) -> int:
        """A number that changes whenever anyone commits to the database: this process, another
        connection, ``farmctl keys`` in another process. Cheap enough to ask on every request, so a
        cache of what was read can be trusted exactly while it holds: SQLite answers from the WAL
        index in shared memory, on the caller's thread. A database busy recovering counts as changed."""
        try:
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return next(_BUSY_VERSIONS)

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Tx]:
        """One unit of work: commit when the block ends, roll back if it raises.

        ``write=False`` gives a consistent read snapshot without taking the write lock.
        """
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise DatabaseBusy(self._path) from exc
                raise
            try:
                yield Tx(SqliteSql(self._conn))
                await self._conn.commit()
            except BaseException as exc:
                await self._conn.rollback()
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise DatabaseBusy(self._path) from exc
                raise


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, after the busy timeout: another connection holds the lock."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or \
        "database is locked" in str(exc)


async def _read_version(conn: aiosqlite.Connection) -> int:
    cur = await conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    )
    if await cur.fetchone() is None:
        return 0
    cur = await conn.execute("SELECT version FROM schema_version")
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def _migrate(conn: aiosqlite.Connection, path: Path) -> int:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        version = await _read_version(conn)
        if version > LATEST_VERSION:
            raise FarmctlError(
                f"queue database {path} has schema version {version}, but this farmctl only "
                f"knows versions up to {LATEST_VERSION}; upgrade farmctl or use another file",
                status=500,
            )
        if version == 0:
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        for number in range(version + 1, LATEST_VERSION + 1):
            for statement in MIGRATIONS[number - 1]:
                await conn.execute(statement)
            await conn.execute("UPDATE schema_version SET version = ?", (number,))
            log.info("queue database %s: migrated to schema version %d", path, number)
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()
    return max(version, LATEST_VERSION)
