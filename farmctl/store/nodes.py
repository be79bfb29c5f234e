"""Rows of the farmctl nodes sharing the database (see ``tx.Tx``): when each started and last beat,
where the others reach it, the secret they sign their calls to each other with, and which printers
each drives."""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class NodePrinter:
    """A printer as its node announced it: every node's page lists it under that node."""

    printer: str
    node: str
    display_name: str


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

    async def set_printers(self, node: str, printers: Sequence[tuple[str, str]], now: float) -> None:
        """``node`` drives exactly these ``(printer, display name)``; a printer moved here from
        another node is this node's from now on."""
        names = [name for name, _ in printers]
        keep = f" AND printer NOT IN ({', '.join('?' * len(names))})" if names else ""
        await self._sql.write(f"DELETE FROM node_printers WHERE node = ?{keep}", (node, *names))
        for name, display_name in printers:
            await self._sql.write(
                """INSERT INTO node_printers (printer, node, display_name, updated) VALUES (?, ?, ?, ?)
                   ON CONFLICT (printer) DO UPDATE SET
                       node = excluded.node, display_name = excluded.display_name, updated = excluded.updated""",
                (name, node, display_name, now),
            )

    async def printers(self) -> list[NodePrinter]:
        """Every node's printers, by node then printer."""
        rows = await self._sql.all("SELECT printer, node, display_name FROM node_printers ORDER BY node, printer")
        return [NodePrinter(r["printer"], r["node"], r["display_name"]) for r in rows]
