"""The database, on both backends: migrations, refusing the future, constraints, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from databases import Database, execute, is_postgresql, query

from farmctl.errors import FarmctlError
from farmctl.store import LATEST_VERSION, ConstraintViolation, Store, Strategy


async def test_migrates_an_empty_database(empty_database: Database) -> None:
    store = await Store.open(empty_database)
    assert store.schema_version == LATEST_VERSION
    async with store.transaction(write=False) as tx:
        assert [q.name for q in await tx.queues.all()] == ["local", "LAN", "archive"]
        assert await tx.automation.scripts() == {"Bed Clearing": "@pause", "Finished": "@pause"}
        events = await tx.automation.events()
        assert [h.script for h in events["continuousprint_success"]] == ["Bed Clearing"]
        assert [h.script for h in events["continuousprint_finish"]] == ["Finished"]
    await store.close()
    assert await query(empty_database, "SELECT version FROM schema_version") == [(LATEST_VERSION,)]


def test_a_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    asyncio.run(_open_and_close(tmp_path / "q.db"))
    with sqlite3.connect(tmp_path / "q.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def _open_and_close(database: Database) -> None:
    await (await Store.open(database)).close()


async def test_reopening_does_not_migrate_twice(empty_database: Database) -> None:
    await _open_and_close(empty_database)
    store = await Store.open(empty_database)
    async with store.transaction(write=False) as tx:
        assert len(await tx.queues.all()) == 3
    await store.close()


async def test_nodes_starting_at_once_migrate_once(empty_database: Database) -> None:
    stores = await asyncio.gather(*(Store.open(empty_database) for _ in range(3)))
    for store in stores:
        await store.close()
    assert await query(empty_database, "SELECT COUNT(*) FROM queues") == [(3,)]


async def test_refuses_a_newer_schema(empty_database: Database) -> None:
    await _open_and_close(empty_database)
    await execute(empty_database, "UPDATE schema_version SET version = ?", LATEST_VERSION + 7)
    with pytest.raises(FarmctlError) as err:
        await Store.open(empty_database)
    assert str(LATEST_VERSION + 7) in err.value.message and str(LATEST_VERSION) in err.value.message


async def test_foreign_keys_and_checks_hold(database: Database) -> None:
    store = await Store.open(database)
    with pytest.raises(ConstraintViolation):
        async with store.transaction() as tx:
            await tx.jobs.insert(999, "orphan", 1.0, count=1, remaining=1, created=0, draft=False)
    with pytest.raises(ConstraintViolation):
        async with store.transaction() as tx:
            await tx.printers.set_temperature_offset("p1", "nozzle", 5.0, 0.0)
    async with store.transaction() as tx:
        await tx.printers.set_temperature_offset("p1", "tool1", 5.0, 0.0)
    await store.close()


async def test_a_failed_transaction_leaves_nothing(database: Database) -> None:
    store = await Store.open(database)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.queues.insert("extra", 5.0, None, Strategy.LINEAR)
            raise RuntimeError("boom")
    async with store.transaction(write=False) as tx:
        assert await tx.queues.named("extra") is None
    await store.close()


async def test_a_task_cancelled_as_its_transaction_begins_leaves_the_database_usable(database: Database) -> None:
    """A request handler is cancelled when its client goes away, at whatever await it is at: one
    cancelled while its transaction begins must not leave the connection inside that transaction."""
    store = await Store.open(database)
    for write in (False, True):
        async def begin_and_wait() -> None:
            async with store.transaction(write=write):
                await asyncio.sleep(10)

        task = asyncio.create_task(begin_and_wait())
        await asyncio.sleep(0)  # the task is at its first await: the transaction's BEGIN
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with store.transaction() as tx:
            await tx.queues.insert(f"after-{write}", 5.0, None, Strategy.LINEAR)
    async with store.transaction(write=False) as tx:
        assert await tx.queues.named("after-True") is not None
    await store.close()


async def test_new_rows_get_their_own_ids_and_times_keep_their_fraction(database: Database) -> None:
    store = await Store.open(database)
    async with store.transaction() as tx:
        first = await tx.queues.insert("a", 5.0, None, Strategy.LINEAR)
        second = await tx.queues.insert("b", 6.0, None, Strategy.LINEAR)
        await tx.printers.set_status("p1", True, "", 1_700_000_000.123456)
    assert second == first + 1 and first > 3  # after the three a fresh install holds
    async with store.transaction(write=False) as tx:
        [status] = await tx.printers.statuses()
    assert status.updated == 1_700_000_000.123456  # a double, not PostgreSQL's single-precision REAL
    await store.close()


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
async def test_a_wrong_postgresql_address_is_one_clear_line(empty_database: Database) -> None:
    assert is_postgresql(empty_database)
    wrong = str(empty_database).rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(FarmctlError) as err:
        await Store.open(wrong)
    assert "cannot open the database" in err.value.message and "no_such_database" in err.value.message
