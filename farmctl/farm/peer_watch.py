"""Keeps :class:`~farmctl.farm.one_view.OneView` current: the store's roster, and a subscription to
each other node's push channel while a page of this node looks.

Why subscribe rather than poll: a node's push channel (``/api/farm/push?scope=node``, only that
node's own printers) sends one snapshot and then, at most once a second, only the card fields that
changed, so a peer costs this node what one open tab costs that node (bench/dashboard.py: well
under 20 KB/s and 2 % of a core), with changes a second old at most. Polling
``/api/farm/printers`` every second would move every card every second for the same freshness.
The channels are open only while someone looks (a page of this node, or an API call, within
``WANTED_FOR``): an idle farm of ten nodes has no traffic between them beyond the heartbeats in the
store. Each channel that fails is retried after 1 s, doubling to ``MAX_RETRY``; a node that stops
beating is marked gone from the store's roster, whatever its channel says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from farmctl.farm.one_view import OneView, PeerNode
from farmctl.farm.peer_client import PeerClient, PeerUnavailable

if TYPE_CHECKING:
    from farmctl.queue import QueueModel

log = logging.getLogger(__name__)

PUSH_PATH = "/api/farm/push?scope=node"
ROSTER_EVERY = 1.0
"""Seconds between reads of the store's roster while someone looks (once a beat otherwise)."""
FIRST_RETRY = 1.0
MAX_RETRY = 10.0
FRESH_WAIT = 2.0
"""Seconds an API call waits for the peers' first snapshots before answering with what it has."""


class PeerWatch:
    """One task that reads the roster and runs one channel task per reachable peer."""

    def __init__(self, view: OneView, peers: PeerClient, *, clock: Callable[[], float] = time.time) -> None:
        self.view = view
        self._peers = peers
        self._clock = clock
        self._channels: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rosters = 0
        """Rosters read so far (an API call waits for one read after it asked)."""

    def start(self, model: QueueModel) -> None:
        """Follow the nodes sharing ``model``'s store (not started: a node alone, the view stays empty)."""
        self._task = asyncio.create_task(self._run(model), name="one view")

    async def stop(self) -> None:
        tasks = [task for _, task in self._channels.values()] + ([self._task] if self._task else [])
        self._channels.clear()
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def want(self) -> None:
        """A page or an API call looks at the farm: open the peers' channels (for ``WANTED_FOR``)."""
        wanted = self.view.wanted(self._clock())
        self.view.want(self._clock())
        if not wanted:
            self._wake.set()

    async def fresh(self) -> None:
        """Open the channels if they are not, and wait (``FRESH_WAIT`` at most) for their first word."""
        if self._task is None:
            return
        if self.view.wanted(self._clock()) and self.view.settled():
            self.want()
            return
        seen = self._rosters
        self.want()
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FRESH_WAIT
        while loop.time() < deadline and not (self._rosters > seen and self.view.settled()):
            await asyncio.sleep(0.05)

    async def _run(self, model: QueueModel) -> None:
        idle_every = model.nodes.node.beat_every
        while True:
            try:
                await self._read_roster(model)
            except Exception:  # a database away for a while must not end the view
                log.exception("reading the farm's nodes failed")
            self._rosters += 1
            wanted = self.view.wanted(self._clock())
            self._keep_channels(self.view.to_watch() if wanted else {})
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), ROSTER_EVERY if wanted else idle_every)

    async def _read_roster(self, model: QueueModel) -> None:
        listing = await model.nodes.listing()
        printers = await model.nodes.printers()
        peers = [PeerNode(n.name, n.url, n.beat, n.alive) for n in listing if not n.this_node]
        self.view.roster(peers, printers, self._clock())

    def _keep_channels(self, wanted: dict[str, str]) -> None:
        for name, (url, task) in list(self._channels.items()):
            if wanted.get(name) != url or task.done():
                task.cancel()
                del self._channels[name]
                self.view.unfollowed(name, self._clock())  # its cards age from now: the next look waits for fresh ones
        for name, url in wanted.items():
            if name not in self._channels:
                self._channels[name] = (url, asyncio.create_task(self._channel(name, url), name=f"node {name}"))

    async def _channel(self, name: str, url: str) -> None:
        """Follow one node's push channel until cancelled, reconnecting with back-off."""
        delay = FIRST_RETRY
        while True:
            try:
                async with self._peers.websocket(url, PUSH_PATH) as ws:
                    delay = FIRST_RETRY
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        self._received(name, json.loads(frame.data))
                    why = "it closed the channel"
            except PeerUnavailable as exc:
                why = exc.message
            except ValueError:
                why = "it sent a message that is not JSON"
            except (aiohttp.ClientError, OSError) as exc:  # the connection broke mid-channel
                why = f"its channel broke ({type(exc).__name__})"
            self.view.lost(name, why, self._clock())
            log.info("node %s: %s; retrying in %.0f s", name, why, delay)
            await asyncio.sleep(delay)
            delay = min(MAX_RETRY, delay * 2)

    def _received(self, name: str, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("type") == "snapshot" and isinstance(message.get("printers"), list):
            self.view.snapshot(name, [c for c in message["printers"] if isinstance(c, dict)], self._clock())
        elif message.get("type") == "diff" and isinstance(message.get("printers"), dict):
            self.view.diff(name, {p: f for p, f in message["printers"].items() if isinstance(f, dict)})
