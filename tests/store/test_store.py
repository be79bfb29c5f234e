"""The database file: migrations, refusing the future, transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from farmctl.errors import FarmctlError
from farmctl.store import LATEST_VERSION, Store


async def test_migrates_an_empty_file(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "q.db")
    assert store.schema_version == LATEST_VERSION
    async with store.transaction(write=False) as tx:
        assert [q.name for q in await tx.queues.all()] == ["local", "LAN", "archive"]
        assert await tx.automation.scripts() == {"Bed Clearing": "@pause", "Finished": "@pause"}
        events = await tx.automation.events()
        assert [h.script for h in events["continuousprint_success"]] == ["Bed Clearing"]
        assert [h.script for h in events["continuousprint_finish"]] == ["Finished"]
    await store.close()
    with sqlite3.connect(tmp_path / "q.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(LATEST_VERSION,)]


async def test_reopening_does_not_migrate_twice(tmp_path: Path) -> None:
    await (await Store.open(tmp_path / "q.db")).close()
    store = await Store.open(tmp_path / "q.db")
    async with store.transaction(write=False) as tx:
        assert len(await tx.queues.all()) == 3
    await store.close()


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    await (await Store.open(tmp_path / "q.db")).close()
    with sqlite3.connect(tmp_path / "q.db") as raw:
        raw.execute("UPDATE schema_version SET version = ?", (LATEST_VERSION + 7,))
    with pytest.raises(FarmctlError) as err:
        await Store.open(tmp_path / "q.db")
    assert str(LATEST_VERSION + 7) in err.value.message and str(LATEST_VERSION) in err.value.message


async def test_foreign_keys_are_on(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "q.db")
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as tx:
            await tx.jobs.insert(999, "orphan", 1.0, count=1, remaining=1, created=0, draft=False)
    await store.close()


async def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "q.db")
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.queues.insert("extra", 5.0, None, (await tx.queues.all())[0].strategy)
            raise RuntimeError("boom")
    async with store.transaction(write=False) as tx:
        assert await tx.queues.named("extra") is None
    await store.close()
