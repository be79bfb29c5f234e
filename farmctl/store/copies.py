"""Rows of free copies (see ``tx.Tx``): one row per copy a set still owes and no open run holds.

A claim takes a free copy by deleting its row, so on PostgreSQL it is a row lock taken with
``FOR UPDATE SKIP LOCKED``: claimers of the same set take different copies side by side, a copy
another claimer holds is passed over, never waited for, and none is taken twice. Each set
keeps ``free = max(0, remaining - open runs on it)`` rows. A claim keeps that balance by itself
(one copy row gone, one open run more); every other change to a set's ``remaining`` or to its
open runs names the set here, and the store brings its rows back to the balance before the
transaction commits (``settle``), under an exclusive lock on the set row, which waits for the
claims in flight on that set and holds new ones back until it commits. Claimers hold the set row
``FOR KEY SHARE`` while they take a copy, which they share with each other and with a plain
``UPDATE sets``, so only a settle makes a claimer wait. On SQLite the write transaction is the
lock and the row locks read as nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from farmctl.store.sql import Rows, Sql


class CopyRows(Rows):
    def __init__(self, sql: Sql) -> None:
        super().__init__(sql)
        self._touched: set[int] = set()

    def touched(self, set_ids: Iterable[Any]) -> None:
        """These sets' ``remaining`` or open runs changed in this transaction: settle them at its end."""
        self._touched.update(int(i) for i in set_ids if i is not None)

    async def take(self, set_id: int) -> bool:
        """Take one free copy of the set, passing over copies other claimers hold; False if none is left.

        The set row is share-locked first (waiting only for a settle of this set), the copy second,
        so a claimer never holds a copy while it waits. A set that had no copy for it is let go
        at once (its savepoint rolled back releases the lock): a claimer trying its next set
        holds nothing a settle could be waiting for, so no two transactions ever wait on each other."""
        await self._sql.write("SAVEPOINT take_copy")
        row = None
        if await self._sql.one(f"SELECT id FROM sets WHERE id = ?{self._sql.row_lock('KEY SHARE')}",
                               (set_id,)) is not None:
            row = await self._sql.one(
                f"SELECT id FROM copies WHERE set_id = ? LIMIT 1{self._sql.row_lock('UPDATE', skip_locked=True)}",
                (set_id,))
        if row is None:
            await self._sql.write("ROLLBACK TO SAVEPOINT take_copy")
            await self._sql.write("RELEASE SAVEPOINT take_copy")
            return False
        await self._sql.write("DELETE FROM copies WHERE id = ?", (row["id"],))
        await self._sql.write("RELEASE SAVEPOINT take_copy")
        return True

    async def settle(self) -> None:
        """Give every touched set ``max(0, remaining - open runs)`` free copies, one set at a time in id
        order (so two settles never wait on each other crosswise)."""
        touched, self._touched = sorted(self._touched), set()
        for set_id in touched:
            await self._settle_one(set_id)

    async def _settle_one(self, set_id: int) -> None:
        # The lock first, the counts after it in statements of their own: in READ COMMITTED each
        # statement reads what was committed when it began, so these see every claim that held the set.
        row = await self._sql.one(f"SELECT remaining FROM sets WHERE id = ?{self._sql.row_lock('UPDATE')}", (set_id,))
        if row is None:  # deleted: its copies went with it
            return
        held = await self._sql.one("SELECT COUNT(*) AS n FROM runs WHERE set_id = ? AND result IS NULL", (set_id,))
        have = await self._sql.one("SELECT COUNT(*) AS n FROM copies WHERE set_id = ?", (set_id,))
        assert held is not None and have is not None
        missing = max(0, int(row["remaining"]) - int(held["n"])) - int(have["n"])
        if missing > 0:
            await self._sql.write(
                """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                   INSERT INTO copies (set_id) SELECT s.id FROM sets s CROSS JOIN n WHERE s.id = ?""",
                (missing, set_id))
        elif missing < 0:
            await self._sql.write(
                "DELETE FROM copies WHERE id IN (SELECT id FROM copies WHERE set_id = ? ORDER BY id DESC LIMIT ?)",
                (set_id, -missing))
