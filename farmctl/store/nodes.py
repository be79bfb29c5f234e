"""Rows of the farmctl nodes sharing the database (see ``tx.Tx``): when each started and last beat,
where the others reach it, and the secret they sign their calls to each other with."""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.store.sql import Rows

PEER_SECRET = "peer"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    name: str
    url: str | None
    """Where the other nodes reach it (farm.toml's ``node_url``); None: it never said."""
    started: float
    beat: float


class NodeRows(Rows):
    async def beat(self, name: str, now: float, *, url: str | None = None, started: bool = False) -> None:
        """The node is alive at ``now`` and reached at ``url``; ``started``: it (re)started then."""
        await self._sql.write(
            """INSERT INTO nodes (name, started, beat, url) VALUES (?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET beat = excluded.beat, url = excluded.url"""
            + (", started = excluded.started" if started else ""),
            (name, now, now, url),
        )

    async def alive_since(self, since: float) -> list[str]:
        """The nodes that beat at ``since`` or later."""
        return [r["name"] for r in await self._sql.all("SELECT name FROM nodes WHERE beat >= ? ORDER BY name",
                                                        (since,))]

    async def all(self) -> list[NodeRecord]:
        """Every node that ever beat, by name."""
        rows = await self._sql.all("SELECT name, url, started, beat FROM nodes ORDER BY name")
        return [NodeRecord(r["name"], r["url"], float(r["started"]), float(r["beat"])) for r in rows]

    async def peer_secret(self, candidate: str, now: float) -> str:
        """The farm's peer secret: the stored one, or ``candidate`` when none is stored yet (the
        first node to start makes it; every later one reads the same)."""
        await self._sql.write("INSERT INTO farm_secrets (name, secret, created) VALUES (?, ?, ?) "
                              "ON CONFLICT (name) DO NOTHING", (PEER_SECRET, candidate, now))
        row = await self._sql.one("SELECT secret FROM farm_secrets WHERE name = ?", (PEER_SECRET,))
        assert row is not None
        return str(row["secret"])
