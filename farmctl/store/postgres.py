"""The shared backend: PostgreSQL through asyncpg, for several farmctl nodes on one queue.

Statements arrive written for SQLite (see ``dialect``). A write transaction takes one advisory
lock per database first, so writers run one at a time as SQLite's ``BEGIN IMMEDIATE`` makes
them, and a read-then-write decision sees every earlier commit (READ COMMITTED reads the latest
committed rows once the lock is held). A claim's write takes no advisory lock: it locks the
rows it takes (``copies``), so claims do not wait for each other. A read transaction is a REPEATABLE READ snapshot that
takes no lock, so state/get never waits for a writer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from farmctl.errors import FarmctlError
from farmctl.store.dialect import LockStrength, numbered_placeholders, postgresql_ddl, row_lock
from farmctl.store.sql import ConstraintViolation, DatabaseBusy, Row, Sql

WRITE_LOCK = 0x6661726D  # "farm": the advisory lock every write transaction holds
POOL_SIZE = 4
_COUNT = re.compile(r" (\d+)$")


def is_postgresql(where: object) -> bool:
    return isinstance(where, str) and where.startswith(("postgresql://", "postgres://"))


def without_password(url: str) -> str:
    """The URL for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresSql:
    """``Sql`` over one asyncpg connection inside its transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.wrote = False

    async def _call(self, method: str, sql: str, params: Sequence[Any]) -> Any:
        import asyncpg

        try:
            return await getattr(self._conn, method)(numbered_placeholders(sql), *params)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ConstraintViolation(str(exc)) from exc

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._call("fetch", sql, params))

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self._call("fetchrow", sql, params)

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        status = await self._call("execute", sql, params)
        found = _COUNT.search(status)  # "UPDATE 3", "INSERT 0 1", "DELETE 0"; DDL has no count
        changed = int(found.group(1)) if found else 0
        if changed:
            self.wrote = True
        return changed

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        new_id = await self._call("fetchval", sql, params)
        self.wrote = True
        return int(new_id)

    async def change_marker(self) -> tuple[int, ...]:
        """The transaction's snapshot: the transactions that had written and committed when it was
        taken (xmin, xmax and the ones still running). Any commit since makes the next one differ."""
        text = await self._conn.fetchval("SELECT pg_current_snapshot()::text")
        xmin, xmax, running = str(text).split(":")
        return (int(xmin), int(xmax), *(int(x) for x in running.split(",") if x))

    def row_lock(self, strength: LockStrength, *, skip_locked: bool = False) -> str:
        return row_lock(strength, skip_locked=skip_locked)


_VERSIONS = itertools.count()


class PostgresBackend:
    """A small asyncpg pool; ``where`` is the URL without its password."""

    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self.path = None
        self.where = without_password(url)

    @classmethod
    async def connect(cls, url: str, timeout: float) -> PostgresBackend:
        try:
            import asyncpg
        except ImportError:
            raise FarmctlError("the database is PostgreSQL, but asyncpg is not installed "
                               "(pip install 'farmctl[postgresql]')", 500) from None
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, timeout=timeout,
                                             command_timeout=timeout)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise FarmctlError(f"cannot open the database {without_password(url)}: {exc}", 500) from None
        return cls(pool, url)

    async def close(self) -> None:
        await self._pool.close()

    def data_version(self) -> int:
        """A server cannot be asked without a round trip: every call counts as a change, so callers
        that cache on it (the API key check) read the database each time."""
        return next(_VERSIONS)

    @asynccontextmanager
    async def transaction(self, write: bool, lock_database: bool = True) -> AsyncIterator[Sql]:
        async with self._pool.acquire() as conn:
            if write:
                async with conn.transaction():
                    if lock_database:
                        await self._lock_database(conn)
                    yield PostgresSql(conn)
            else:
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    yield PostgresSql(conn)

    async def _lock_database(self, conn: Any) -> None:
        """The write lock, waited for up to the busy timeout, then refused as SQLite refuses."""
        try:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
        except TimeoutError:
            raise DatabaseBusy(self.where) from None

    async def has_table(self, sql: Sql, name: str) -> bool:
        return await sql.one("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                             "AND table_name = ?", (name,)) is not None

    @staticmethod
    def ddl(statement: str) -> str:
        return postgresql_ddl(statement)
