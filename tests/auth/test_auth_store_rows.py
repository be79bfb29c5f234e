"""The rows migration 3 adds: printer status survives a restart; the schema keeps its promises."""

from __future__ import annotations

from pathlib import Path

from farmctl.store import LATEST_VERSION, PrinterStatus, Store


async def test_printer_status_survives_reopening(db_path: Path) -> None:
    store = await Store.open(db_path)
    async with store.transaction() as tx:
        assert await tx.printers.status("mk3") is None
        await tx.printers.set_status("mk3", True, "", 10.0)
        await tx.printers.set_status("ender", True, "", 11.0)
    async with store.transaction() as tx:
        await tx.printers.set_status("mk3", False, "bed clearing script failed", 12.0)
    await store.close()

    store = await Store.open(db_path)
    try:
        async with store.transaction(write=False) as tx:
            assert await tx.printers.status("mk3") == PrinterStatus("mk3", False, "bed clearing script failed", 12.0)
            assert [s.printer for s in await tx.printers.statuses()] == ["ender", "mk3"]
        async with store.transaction() as tx:
            await tx.printers.delete_status("ender")
            assert [s.printer for s in await tx.printers.statuses()] == ["mk3"]
    finally:
        await store.close()


async def test_the_auth_tables_arrive_with_migration_3(store: Store) -> None:
    assert store.schema_version == LATEST_VERSION >= 3
    async with store.transaction(write=False) as tx:
        assert await tx.auth.users() == []
        assert await tx.auth.api_keys() == []
        assert await tx.printers.statuses() == []


async def test_a_change_that_fails_leaves_no_rows(store: Store) -> None:
    try:
        async with store.transaction() as tx:
            await tx.auth.insert_user("alice", None, "admin", 0.0)
            await tx.auth.insert_api_key("k", "h" * 64, "alice", "admin", 0.0)
            raise RuntimeError("crash mid-change")
    except RuntimeError:
        pass
    async with store.transaction(write=False) as tx:
        assert await tx.auth.users() == [] and await tx.auth.api_keys() == []
