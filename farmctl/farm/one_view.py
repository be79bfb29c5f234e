"""One view of the whole farm: what this node knows of the other nodes' printers.

Which printers each node drives comes from the shared store (each node writes its list at start),
so a node that went away before this one started still shows its printers. What they are doing
comes from each node's own push channel (see :mod:`farmctl.farm.peer_watch`): the same cards
this node's page shows of its own printers, marked with the node they belong to. A node that stops
beating is *gone*: its printers show that, with when it was last heard of, and their actions are
refused at once instead of waiting on a dead address. A node that still beats but whose channel
failed is *unreachable*: its cards are the last seen, and an action is still tried.

:class:`OneView` holds that state and does no I/O: the watcher feeds it the store's roster and the
peers' messages, ``now`` passed in (wall-clock seconds, as the heartbeats are).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.store import NodePrinter

WANTED_FOR = 60.0
"""Seconds the peers' channels stay open after the last page (or API call) of this node asked for them."""


class NodeState(enum.Enum):
    CONNECTING = "connecting"
    """It beats; its channel is not open yet: its printers are listed from the store only."""
    UP = "up"
    """Its channel is open: its cards are live."""
    UNREACHABLE = "unreachable"
    """It beats, but its channel failed: its cards are the last seen, and the channel is retried."""
    GONE = "gone"
    """It stopped beating: its printers are away until it comes back."""


STATE_TEXT = {
    NodeState.CONNECTING: "Connecting to node",
    NodeState.UNREACHABLE: "Node not answering",
    NodeState.GONE: "Node went away",
}


@dataclass(frozen=True, slots=True)
class PeerNode:
    """A node as the roster lists it: where it is reached, its last beat, whether that is recent."""

    name: str
    url: str | None
    beat: float
    alive: bool


@dataclass(slots=True)
class RemoteNode:
    name: str
    url: str | None = None
    state: NodeState = NodeState.CONNECTING
    since: float = 0.0
    """When it entered its state (for a gone node: its last beat)."""
    error: str | None = None
    listed: dict[str, str] = field(default_factory=dict)
    """Its printers as the store lists them: name -> display name."""
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Its printers' cards as its channel last sent them (without their trend)."""
    trends: dict[str, list[Any]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state.value, "since": self.since, "error": self.error,
                "local": False}


class OneView:
    """The other nodes and their printers' cards, as this node last heard of them."""

    def __init__(self, this_node: str) -> None:
        self.this_node = this_node
        self.nodes: dict[str, RemoteNode] = {}
        self._printer_node: dict[str, str] = {}
        self.wanted_until = 0.0

    # -- what the watcher feeds in ------------------------------------------------------------------

    def roster(self, peers: Iterable[PeerNode], printers: Iterable[NodePrinter], now: float) -> None:
        """The store's list of nodes and printers: gone nodes are marked, new ones added."""
        listed: dict[str, dict[str, str]] = {}
        for printer in printers:
            if printer.node != self.this_node:
                listed.setdefault(printer.node, {})[printer.printer] = printer.display_name
        known = {peer.name: peer for peer in peers if peer.name != self.this_node}
        for name in list(self.nodes):
            if name not in known and name not in listed:
                del self.nodes[name]
        for name in sorted(set(known) | set(listed)):
            node = self.nodes.setdefault(name, RemoteNode(name, since=now))
            node.listed = listed.get(name, {})
            for gone in set(node.cards) - set(node.listed):  # no longer this node's (moved or removed)
                node.cards.pop(gone, None)
                node.trends.pop(gone, None)
            peer = known.get(name)
            node.url = peer.url if peer is not None else None
            if peer is None or not peer.alive:
                if node.state is not NodeState.GONE:
                    self._set(node, NodeState.GONE, peer.beat if peer is not None else now, None)
            elif node.state is NodeState.GONE:
                self._set(node, NodeState.CONNECTING, now, None)
        self._printer_node = {printer: node.name for node in self.nodes.values() for printer in node.listed}

    def snapshot(self, name: str, cards: list[dict[str, Any]], now: float) -> None:
        node = self.nodes.get(name)
        if node is None:
            return
        node.cards = {card["name"]: {k: v for k, v in card.items() if k != "trend"}
                      for card in cards if card.get("name") in node.listed}
        node.trends = {card["name"]: card.get("trend") or [] for card in cards if card.get("name") in node.listed}
        if node.state is not NodeState.GONE:
            self._set(node, NodeState.UP, now, None)

    def diff(self, name: str, changes: dict[str, dict[str, Any]]) -> None:
        node = self.nodes.get(name)
        if node is None:
            return
        for printer, fields in changes.items():
            if printer in node.cards:
                node.cards[printer] = {**node.cards[printer], **fields}

    def lost(self, name: str, error: str, now: float) -> None:
        """Its channel closed or could not open."""
        node = self.nodes.get(name)
        if node is not None and node.state is not NodeState.GONE:
            if node.state is not NodeState.UNREACHABLE or node.error != error:
                self._set(node, NodeState.UNREACHABLE, now, error)

    def unfollowed(self, name: str, now: float) -> None:
        """Its channel was closed here (no one looks any more): its cards are no longer live."""
        node = self.nodes.get(name)
        if node is not None and node.state in (NodeState.UP, NodeState.UNREACHABLE):
            self._set(node, NodeState.CONNECTING, now, None)

    @staticmethod
    def _set(node: RemoteNode, state: NodeState, since: float, error: str | None) -> None:
        node.state, node.since, node.error = state, since, error

    # -- leases: the peers' channels are open only while someone here looks ---------------------------

    def want(self, now: float) -> None:
        self.wanted_until = max(self.wanted_until, now + WANTED_FOR)

    def wanted(self, now: float) -> bool:
        return now < self.wanted_until

    def to_watch(self) -> dict[str, str]:
        """The nodes whose channel should be open: name -> URL (they beat, said where they are and drive printers)."""
        return {node.name: node.url for node in self.nodes.values()
                if node.state is not NodeState.GONE and node.url is not None and node.listed}

    def settled(self) -> bool:
        """Every node that can be reached has been heard from, or has failed (an API call may answer now)."""
        watched = self.to_watch()
        return all(node.state is not NodeState.CONNECTING or node.name not in watched for node in self.nodes.values())

    # -- what the page and the API read -------------------------------------------------------------------

    def cards(self) -> dict[str, dict[str, Any]]:
        """Every remote printer's card, by node then printer, marked with its node."""
        cards = {}
        for node in sorted(self.nodes.values(), key=lambda n: n.name):
            for printer in sorted(node.listed):
                cards[printer] = self._card(node, printer)
        return cards

    def trend(self, printer: str) -> list[Any]:
        node = self.nodes.get(self._printer_node.get(printer, ""))
        return [] if node is None else node.trends.get(printer, [])

    def _card(self, node: RemoteNode, printer: str) -> dict[str, Any]:
        seen = node.cards.get(printer)
        card = dict(seen) if seen is not None else {
            "name": printer, "displayName": node.listed[printer], "job": {"path": None, "script": None},
            "progress": {"completion": None, "printTime": None, "printTimeLeft": None},
            "queue": {"active": False, "status": "", "statusType": ""}, "temperatures": {}, "currentZ": None,
            "profile": "", "firmware": "", "port": "", "prompt": None, "tags": [], "materials": [],
            "maintenance": None, "webcam": None}
        card["node"] = node.describe()
        if node.state is not NodeState.UP:
            last = (seen or {}).get("state") or {}
            card["state"] = {"id": f"NODE_{node.state.name}", "text": STATE_TEXT[node.state],
                             "error": self._reason(node), "lastSeen": last.get("text")}
            card["attention"] = None
        return card

    @staticmethod
    def _reason(node: RemoteNode) -> str:
        if node.state is NodeState.GONE:
            return (f"node {node.name} stopped beating: its printers are out of reach until it is back, and a "
                    "print it had open is settled aborted and owed to the queue")
        if node.state is NodeState.UNREACHABLE:
            return f"node {node.name} beats but does not answer ({node.error}); retrying"
        if node.url is None:
            return f"node {node.name} has not said where it is reached (node_url in its farm.toml)"
        return f"waiting for node {node.name}'s first report"

    # -- actions ------------------------------------------------------------------------------------------

    def node_of(self, printer: str) -> RemoteNode | None:
        node = self._printer_node.get(printer)
        return None if node is None else self.nodes.get(node)

    def reachable(self, printer: str) -> tuple[str, str]:
        """Where to send an action for ``printer``: (node, its URL); a clear refusal when there is none."""
        node = self.node_of(printer)
        if node is None:
            raise FarmctlError(f"no printer named {printer!r}", 404)
        if node.state is NodeState.GONE:
            raise FarmctlError(f"{printer} is on node {node.name}, which went away (it stopped beating): "
                               "start that node again, then retry", 409)
        if node.url is None:
            raise FarmctlError(f"{printer} is on node {node.name}, which has not said where it is reached: "
                               "set node_url in its farm.toml", 409)
        return node.name, node.url
