"""The embedded backend: one SQLite file in WAL mode, one connection, ``BEGIN IMMEDIATE`` for writes.

A write transaction takes SQLite's write lock up front, so a read-then-write decision (which
copy to print next) cannot race another connection, whichever process holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from farmctl.store.sql import Sql, SqliteSql


class SqliteBackend:
    """One aiosqlite connection; it serves one transaction at a time, and tasks sharing it queue."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.where = str(path)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, busy_timeout: float) -> SqliteBackend:
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            await conn.execute("PRAGMA journal_mode = WAL")
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

    @asynccontextmanager
    async def transaction(self, write: bool) -> AsyncIterator[Sql]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield SqliteSql(self._conn)
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()

    async def has_table(self, sql: Sql, name: str) -> bool:
        return await sql.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    @staticmethod
    def ddl(statement: str) -> str:
        return statement  # the migrations are written in SQLite's dialect
