"""The two store backends the store and queue tests run on: a SQLite file, and a PostgreSQL database.

PostgreSQL is the one ``.ci/run`` started (FARMCTL_TEST_POSTGRES, a URL to a database a
superuser may create databases from). The session gets a database of its own, migrated once;
before each test its tables are emptied and refilled with what a fresh install holds (the
migrations' data statements, replayed), which costs milliseconds where migrating costs a second.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")
NO_POSTGRES = ("no PostgreSQL: run the suite through .ci/run, which starts Debian's postgresql, or set "
               "FARMCTL_TEST_POSTGRES=postgresql://user@127.0.0.1:5432/postgres")
Database = Path | str
"""A SQLite file or a ``postgresql://`` URL, as ``Store.open`` takes it."""


def postgres_server() -> str | None:
    return os.environ.get("FARMCTL_TEST_POSTGRES") or None


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to the end from synchronous code, in a thread with a loop of its own
    (a fixture may be set up while the test's loop exists)."""
    result: list[Any] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))  # type: ignore[arg-type]
        except BaseException as exc:  # handed back to the caller
            result.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def create_database(server: str, label: str) -> str:
    import asyncpg

    name = f"farmctl_{re.sub(r'[^a-z0-9]+', '_', label.lower())[-30:]}_{secrets.token_hex(3)}"

    async def create() -> None:
        conn = await asyncpg.connect(server)
        try:
            # C collation: text sorts by code point, as SQLite sorts it.
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' LC_COLLATE \'C\' '
                               "LC_CTYPE 'C'")
        finally:
            await conn.close()

    run_sync(create)
    return _with_database(server, name)


def drop_database(server: str, url: str) -> None:
    import asyncpg

    name = urlsplit(url).path.lstrip("/")

    async def drop() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_sync(drop)


def empty_schema(url: str) -> None:
    import asyncpg

    async def reset() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()

    run_sync(reset)


class PostgresDatabase:
    """The session's PostgreSQL database and what it takes to make it a fresh install again."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.migrated = False
        self._tables: list[str] = []  # children before their parents, so DELETE never trips a foreign key
        self._identities: list[str] = []

    def fresh_install(self) -> str:
        """Every table as a fresh install leaves it, ids starting again at 1. Migrates only when a test
        emptied the schema: DELETE and the migrations' data statements cost milliseconds, DDL a second."""
        if not self.migrated:
            self._migrate()
        run_sync(self._refill)
        return self.url

    def empty(self) -> str:
        """No table at all, for the migrations' own tests."""
        empty_schema(self.url)
        self.migrated = False
        return self.url

    def _migrate(self) -> None:
        from farmctl.store import Store

        async def migrate() -> None:
            await (await Store.open(self.url)).close()
            await self._learn_tables()

        empty_schema(self.url)  # whatever the last migrations' test left
        run_sync(migrate)
        self.migrated = True

    async def _learn_tables(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            tables = [r[0] for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name <> 'schema_version' ORDER BY 1")]
            edges = await conn.fetch(
                """SELECT DISTINCT tc.table_name AS child, ccu.table_name AS parent
                   FROM information_schema.table_constraints tc
                   JOIN information_schema.constraint_column_usage ccu USING (constraint_schema, constraint_name)
                   WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public'""")
            self._identities = [r[0] for r in await conn.fetch(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND is_identity = 'YES'")]
        finally:
            await conn.close()
        parents = {t: {e["parent"] for e in edges if e["child"] == t and e["parent"] != t} for t in tables}
        ordered: list[str] = []
        while len(ordered) < len(tables):  # a table goes once no table left still refers to it
            ordered += [t for t in tables if t not in ordered
                        and not any(t in parents[c] for c in tables if c not in ordered and c != t)]
        self._tables = ordered

    async def _refill(self) -> None:
        import asyncpg

        from farmctl.store.migrations import LATEST_VERSION, MIGRATIONS

        seed = [s for migration in MIGRATIONS for s in migration
                if not s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                await conn.execute(";\n".join(f"DELETE FROM {t}" for t in self._tables))
                await conn.execute(";\n".join(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), 1, false)"
                                               for t in self._identities))
                await conn.execute(";\n".join(seed))
                await conn.execute(f"UPDATE schema_version SET version = {LATEST_VERSION}")
        finally:
            await conn.close()


def is_postgresql(database: Database) -> bool:
    return isinstance(database, str)


async def dump(database: Database) -> list[str]:
    """Every committed row of every table, in a stable order, to check that a refusal changed nothing."""
    if not is_postgresql(database):
        with sqlite3.connect(database) as raw:
            return list(raw.iterdump())
    import asyncpg

    conn = await asyncpg.connect(str(database))
    try:
        tables = [r[0] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")]
        out = []
        for table in tables:
            out += [f"{table}: {tuple(r)}" for r in await conn.fetch(f'SELECT * FROM "{table}" ORDER BY 1')]
        return out
    finally:
        await conn.close()


async def query(database: Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A plain query on a connection of its own (``?`` placeholders), outside farmctl's store."""
    if not is_postgresql(database):
        with sqlite3.connect(database) as raw:
            return raw.execute(sql, params).fetchall()
    import asyncpg

    from farmctl.store.dialect import numbered_placeholders

    conn = await asyncpg.connect(str(database))
    try:
        return [tuple(r) for r in await conn.fetch(numbered_placeholders(sql), *params)]
    finally:
        await conn.close()


async def execute(database: Database, sql: str, *params: Any) -> None:
    """A plain write on a connection of its own, committed at once (another process's change)."""
    if not is_postgresql(database):
        with sqlite3.connect(database) as raw:
            raw.execute(sql, params)
        return
    import asyncpg

    from farmctl.store.dialect import numbered_placeholders

    conn = await asyncpg.connect(str(database))
    try:
        await conn.execute(numbered_placeholders(sql), *params)
    finally:
        await conn.close()
