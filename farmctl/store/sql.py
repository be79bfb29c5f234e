"""The one place that runs statements on the transaction's connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite


class SqlBase:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        cur = await self._conn.execute(sql, params)
        return list(await cur.fetchall())

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        cur = await self._conn.execute(sql, params)
        return await cur.fetchone()

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        return await self._conn.execute(sql, params)
