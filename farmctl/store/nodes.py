"""Rows of the farmctl nodes sharing the database (see ``tx.Tx``): when each started and last beat."""

from __future__ import annotations

from farmctl.store.sql import Rows


class NodeRows(Rows):
    async def beat(self, name: str, now: float, *, started: bool = False) -> None:
        """The node is alive at ``now``; ``started``: it (re)started then."""
        await self._sql.write(
            """INSERT INTO nodes (name, started, beat) VALUES (?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET beat = excluded.beat"""
            + (", started = excluded.started" if started else ""),
            (name, now, now),
        )

    async def alive_since(self, since: float) -> list[str]:
        """The nodes that beat at ``since`` or later."""
        return [r["name"] for r in await self._sql.all("SELECT name FROM nodes WHERE beat >= ? ORDER BY name",
                                                        (since,))]
