"""The queue database: SQLite (one file, the default) or PostgreSQL (shared by several nodes),
migrated at open and written in transactions.

Every change runs inside ``Store.transaction()``, which takes the backend's write lock up front
(SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so a read-then-write decision cannot
race another connection, and commits or rolls back as one unit. A claim of a copy is the one
write that, on PostgreSQL, locks rows instead (``FOR UPDATE SKIP LOCKED``, see ``copies``): many
nodes' printers claim at once without queueing behind one lock. Both
backends run the same statements and the same migrations; ``dialect`` holds what differs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

from farmctl.errors import FarmctlError
from farmctl.store.migrations import LATEST_VERSION, MIGRATIONS
from farmctl.store.postgres import PostgresBackend, is_postgresql
from farmctl.store.sql import Sql
from farmctl.store.sqlite import SqliteBackend
from farmctl.store.tx import Tx

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another process's lock before it is refused (every other transaction
of the farm queues behind it meanwhile, so this is also how long the API may stall)."""


class Backend(Protocol):
    path: Path | None
    """The SQLite file; None for a database server."""
    where: str
    """The file or the URL (without a password), for messages."""

    def transaction(self, write: bool, lock_database: bool = True) -> AbstractAsyncContextManager[Sql]: ...

    def data_version(self) -> int: ...

    async def has_table(self, sql: Sql, name: str) -> bool: ...

    def ddl(self, statement: str) -> str: ...

    async def close(self) -> None: ...


class Store:
    """An open queue database. Create with ``await Store.open(path or URL)``; ``await close()`` at exit."""

    def __init__(self, backend: Backend, version: int) -> None:
        self._backend = backend
        self._version = version

    @property
    def path(self) -> Path | None:
        return self._backend.path

    @property
    def where(self) -> str:
        return self._backend.where

    @property
    def schema_version(self) -> int:
        return self._version

    @classmethod
    async def open(cls, where: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """Open (creating if needed) and migrate; refuse a database newer than this code.

        ``where`` is a SQLite file or a ``postgresql://`` URL."""
        if is_postgresql(where):
            backend: Backend = await PostgresBackend.connect(str(where), busy_timeout)
        else:
            backend = await SqliteBackend.open(Path(where), busy_timeout)
        try:
            version = await _migrate(backend)
        except BaseException:
            await backend.close()
            raise
        return cls(backend, version)

    async def close(self) -> None:
        await self._backend.close()

    def data_version(self) -> int:
        """A number that changes whenever anyone commits to the database: this process, another
        connection, ``farmctl keys`` in another process. Cheap enough to ask on every request (no
        await), so a cache of what was read can be trusted exactly while it holds."""
        return self._backend.data_version()

    @asynccontextmanager
    async def transaction(self, *, write: bool = True, lock_database: bool = True) -> AsyncIterator[Tx]:
        """One unit of work: commit when the block ends, roll back if it raises.

        ``write=False`` gives a consistent read snapshot without taking the write lock.
        ``lock_database=False`` is a claim's write: on PostgreSQL it takes row locks only (see
        ``copies``), so claims of different copies run side by side; SQLite locks the file anyway.
        Before a write commits, the sets it changed get their free copies back in balance.
        """
        async with self._backend.transaction(write, lock_database) as sql:
            tx = Tx(sql)
            yield tx
            if write:
                await tx.copies.settle()


async def _migrate(backend: Backend) -> int:
    """Bring the schema to LATEST_VERSION in one write transaction: a crash (or a second node
    starting at the same moment, which waits for the lock) never sees half a migration."""
    async with backend.transaction(write=True) as sql:
        version = 0
        if await backend.has_table(sql, "schema_version"):
            row = await sql.one("SELECT version FROM schema_version")
            version = 0 if row is None else int(row[0])
        if version > LATEST_VERSION:
            raise FarmctlError(
                f"queue database {backend.where} has schema version {version}, but this farmctl only "
                f"knows versions up to {LATEST_VERSION}; upgrade farmctl or use another database",
                status=500,
            )
        if version == 0:
            await sql.write(backend.ddl("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
            await sql.write("INSERT INTO schema_version (version) VALUES (0)")
        for number in range(version + 1, LATEST_VERSION + 1):
            for statement in MIGRATIONS[number - 1]:
                await sql.write(backend.ddl(statement))
            await sql.write("UPDATE schema_version SET version = ?", (number,))
            log.info("queue database %s: migrated to schema version %d", backend.where, number)
    return max(version, LATEST_VERSION)
