"""The queue database: one SQLite file in WAL mode, migrated at open, written in transactions.

Every change runs inside ``Store.transaction()``, which takes SQLite's write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write decision (which copy to print next) cannot race
another connection, and commits or rolls back as one unit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from farmctl.errors import FarmctlError
from farmctl.store.migrations import LATEST_VERSION, MIGRATIONS
from farmctl.store.sql import SqliteSql
from farmctl.store.tx import Tx

log = logging.getLogger(__name__)


class Store:
    """An open queue database. Create with ``await Store.open(path)``; ``await close()`` at exit."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, version: int) -> None:
        self._conn = conn
        self._path = path
        self._version = version
        # One aiosqlite connection serves one transaction at a time; tasks sharing it queue here.
        self._lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def schema_version(self) -> int:
        return self._version

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout: float = 30.0) -> Store:
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

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Tx]:
        """One unit of work: commit when the block ends, roll back if it raises.

        ``write=False`` gives a consistent read snapshot without taking the write lock.
        """
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(SqliteSql(self._conn))
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()


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
