"""The farmctl nodes that share one queue (PostgreSQL): each beats; a node that stops is settled.

Every node writes a heartbeat; any node that sees another's last beat older than ``dead_after``
settles that node's open runs as ``aborted`` in one write transaction. An open run is closed only
``WHERE result IS NULL`` under the write lock, so however many nodes notice at once, each run is
settled exactly once; nothing is decremented, so its copy is owed again and the next claim of any
node takes it. The printer's status says why, for when its node comes back (it starts inactive).

A node restarting settles its own open runs the same way (its prints died with it). Liveness is
judged by each node's own clock against the beats the others wrote: nodes need synchronised
clocks (NTP), and ``dead_after`` should be well above a network hiccup, or a node cut off for a
while finds its print settled and printed elsewhere too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from farmctl.queue.counting import settle_open_runs
from farmctl.queue.db import QueueDb
from farmctl.store import NodePrinter, RunRecord

DEAD_AFTER = 30.0
BEATS_PER_TIMEOUT = 5


@dataclass(frozen=True, slots=True)
class NodeClock:
    name: str
    dead_after: float = DEAD_AFTER
    url: str | None = None
    """Where the other nodes reach this one, written with every beat."""

    @property
    def beat_every(self) -> float:
        return self.dead_after / BEATS_PER_TIMEOUT


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node as the shared store knows it."""

    name: str
    url: str | None
    started: float
    beat: float
    alive: bool
    """It beat within ``dead_after`` (by this node's clock)."""
    this_node: bool


class Nodes:
    def __init__(self, db: QueueDb, node: NodeClock) -> None:
        self._db = db
        self.node = node

    async def start(self) -> list[RunRecord]:
        """This node (re)starts: its open runs, those of nodes that stopped beating and those of no
        node are settled ``aborted``; returns them."""
        return await self._settle(starting=True)

    async def beat(self) -> list[RunRecord]:
        """This node lives; the open runs of nodes that stopped beating are settled; returns those."""
        return await self._settle(starting=False)

    async def listing(self) -> list[NodeStatus]:
        """Every node that ever beat, by name: where it is reached and whether it still beats."""
        async with self._db.read() as tx:
            records = await tx.nodes.all()
        since = self._db.clock() - self.node.dead_after
        return [NodeStatus(r.name, r.url, r.started, r.beat, r.beat >= since, r.name == self.node.name)
                for r in records]

    async def live(self) -> list[NodeStatus]:
        """The other nodes that still beat (those another node can call)."""
        return [n for n in await self.listing() if n.alive and not n.this_node]

    async def _settle(self, starting: bool) -> list[RunRecord]:
        # Not QueueDb.write(): a beat is no queue change, and must not wake every driver and client.
        async with self._db.store.transaction() as tx:
            now = self._db.clock()
            await tx.nodes.beat(self.node.name, now, url=self.node.url, started=starting)
            live = set(await tx.nodes.alive_since(now - self.node.dead_after)) - {self.node.name}
            if not starting:  # a restart settles this node's own runs too: they died with it
                live.add(self.node.name)
            orphans = await tx.runs.open_of_nodes_other_than_live(sorted(live))
            settled = await settle_open_runs(tx, orphans, now)
            for run in settled:
                await tx.printers.set_status(run.printer, False, self._reason(run), now)
        if settled:
            self._db.announce()
        return settled

    def _reason(self, run: RunRecord) -> str:
        if run.node in (None, self.node.name):
            return (f"the print of {run.set_path} was interrupted by a restart; "
                    "that copy is still owed (click Start Managing to print it)")
        return (f"node {run.node} stopped answering during the print of {run.set_path}; that copy is "
                "still owed and may be printed elsewhere (check the bed, then click Start Managing)")

    async def set_printers(self, printers: Sequence[tuple[str, str]]) -> None:
        """This node drives these ``(printer, display name)``: what the other nodes' pages list for it."""
        async with self._db.store.transaction() as tx:
            await tx.nodes.set_printers(self.node.name, printers, self._db.clock())

    async def printers(self) -> list[NodePrinter]:
        """Every node's printers, as each node last announced them."""
        async with self._db.read() as tx:
            return await tx.nodes.printers()
