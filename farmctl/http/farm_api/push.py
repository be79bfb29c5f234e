"""The dashboard's push channel: ``/api/farm/push``, a websocket, authenticated like every call
(the page's session cookie, or ``?apikey=`` since a browser cannot set headers on a websocket).

It sends one ``snapshot`` of every card, then at most one ``diff`` per ``DIFF_INTERVAL`` with only
the cards' top-level fields that changed (``{"printers": {"p1": {"progress": ...}}}``), sooner
(``EAGER_DELAY``) after a state change. Changes to the queue, the history or the files come as
``{"type": "changed", "areas": {"queue": 12}}``, so a view refetches just the page it shows. A
client may ``{"watch": "<printer>"}`` to receive that printer's new terminal lines.

The cards include the other nodes' printers (marked with their node; see
:mod:`farmctl.farm.one_view`), whose channels stay open while a page here is; ``?scope=node`` is a
channel of this node's own printers only, which is what the other nodes subscribe to.

:class:`FarmPushSession` is the protocol (no I/O, ``now`` passed in); :func:`serve` moves frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from farmctl.auth import Principal
from farmctl.auth.peers import is_signed
from farmctl.farm.attention import needs_attention
from farmctl.farm.farm import Farm
from farmctl.http.app import PRINCIPAL, SESSION_COOKIE, api_key_of, farm_of
from farmctl.http.farm_api.printers import card, trend, whole_farm
from farmctl.http.octoprint_job import job_file_info, job_path
from farmctl.http.push import let_go

log = logging.getLogger(__name__)

DIFF_INTERVAL = 1.0
EAGER_DELAY = 0.1
"""After a printer's state, prompt or queue changes, the next diff goes out this soon (coalesced)."""
ACCESS_CHECK = 10.0
HEARTBEAT = 25.0
SEND_TIMEOUT = 10.0
MAX_FRAME = 16 * 1024
TERMINAL_BATCH = 100
TERMINAL_INTERVAL = 0.25
"""A watched printer's terminal lines go out this often (a person typing M105 sees the reply at once)."""
OPEN_CHANNELS = web.AppKey("dashboard push channels", set)
"""The app's open channels, closed when it shuts down: a page, or another node following this one,
would otherwise hold a stopping server until its shutdown timeout."""


class FarmPushSession:
    """One open page. ``snapshot``, ``tick`` and ``received`` return the messages to send."""

    def __init__(self, farm: Farm, whole_farm: bool = True) -> None:
        self.farm = farm
        self.whole_farm = whole_farm
        self._sent: dict[str, dict[str, Any]] = {}
        self._estimates: dict[str, tuple[str | None, float | None]] = {}
        self._with_work: frozenset[str] = frozenset()
        self._watching: str | None = None
        self._terminal_seq = 0
        self._next_terminal = 0.0
        self.next_diff = 0.0

    def _cards(self, now: float) -> dict[str, dict[str, Any]]:
        cards = {}
        for name, entry in self.farm.printers.items():
            path, estimate = self._estimates.get(name, (None, None))
            known = estimate if path == job_path(self.farm, entry) else None
            attention = needs_attention(entry, name in self._with_work)
            cards[name] = card(self.farm, entry, now, known, None if attention is None else attention.as_dict())
        if self.whole_farm:
            cards.update((name, remote) for name, remote in self.farm.one_view.cards().items() if name not in cards)
        return cards

    def _trend(self, name: str) -> list[Any]:
        entry = self.farm.printers.get(name)
        return trend(entry) if entry is not None else self.farm.one_view.trend(name)

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        self._sent = self._cards(now)
        self.next_diff = now + DIFF_INTERVAL
        printers = [card | {"trend": self._trend(name)} for name, card in self._sent.items()]
        return [{"type": "snapshot", "printers": printers, "revisions": dict(self.farm.revisions)}]

    def changed(self, message: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """A farm change message: area notices go out at once; anything else brings the next diff forward."""
        if message.get("type") == "changed" and message.get("areas"):
            return [{"type": "changed", "areas": message["areas"]}]
        self.next_diff = min(self.next_diff, now + EAGER_DELAY)
        return []

    def received(self, message: Any) -> list[dict[str, Any]]:
        if isinstance(message, dict) and "watch" in message:
            name = message["watch"]
            self._watching = name if isinstance(name, str) and name in self.farm.printers else None
            if self._watching is not None:
                self._terminal_seq = self.farm.printers[self._watching].printer.terminal.seq
        return []

    def tick(self, now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if now >= self.next_diff:
            self.next_diff = now + DIFF_INTERVAL
            cards = self._cards(now)
            changes: dict[str, dict[str, Any]] = {}
            for name, fresh in cards.items():
                before = self._sent.get(name, {})
                fields = {key: value for key, value in fresh.items() if before.get(key) != value}
                if fields:
                    changes[name] = fields
            self._sent = cards
            if changes:
                out.append({"type": "diff", "printers": changes})
        if self._watching is not None and now >= self._next_terminal:
            self._next_terminal = now + TERMINAL_INTERVAL
            lines = self.farm.printers[self._watching].printer.terminal.since(self._terminal_seq, TERMINAL_BATCH)
            if lines.logs:
                out.append({"type": "terminal", "printer": self._watching, "lines": lines.logs})
            self._terminal_seq = lines.seq
        return out

    def due(self) -> float:
        """When :meth:`tick` next has something to send."""
        return self.next_diff if self._watching is None else min(self.next_diff, self._next_terminal)

    # -- what the cards need from outside memory (looked up by the caller, between ticks) -----------

    def estimates_wanted(self) -> dict[str, str]:
        """Printers whose job's upload this session has no estimate for: name -> upload path."""
        wanted = {}
        for name, entry in self.farm.printers.items():
            path = job_path(self.farm, entry)
            if path is not None and self._estimates.get(name, (None, None))[0] != path:
                wanted[name] = path
        return wanted

    def estimate_found(self, name: str, path: str, seconds: float | None) -> None:
        self._estimates[name] = (path, seconds)

    def work_found(self, with_work: frozenset[str]) -> None:
        """The idle, unmanaged printers whose queues have work (:class:`farmctl.farm.attention.WorkLookout`)."""
        self._with_work = with_work


async def _look_up(farm: Farm, session: FarmPushSession) -> None:
    for name, path in session.estimates_wanted().items():
        info = await job_file_info(farm, path)
        analysis = info.analysis if info is not None else None
        session.estimate_found(name, path, analysis.estimated_print_time if analysis is not None else None)


async def _look_for_work(farm: Farm, session: FarmPushSession, now: float) -> None:
    session.work_found(await farm.work_lookout.with_work(now))


async def _still_allowed(farm: Farm, request: web.Request) -> bool:
    """Is the caller's key or session still good? A revoked key ends an open page too. Another
    node's channel was signed with the farm's secret, which lasts as long as the nodes run."""
    if is_signed(request.headers):
        return True
    if (key := api_key_of(request)) is not None:
        return await farm.auth.check_key(key) is not None
    token = request.cookies.get(SESSION_COOKIE)
    return token is not None and farm.auth.session(token) is not None


async def serve(request: web.Request) -> web.StreamResponse:
    farm = farm_of(request)
    principal: Principal = request[PRINCIPAL]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    channels: set[web.WebSocketResponse] = request.app[OPEN_CHANNELS]
    channels.add(ws)
    session = FarmPushSession(farm, whole_farm(request))
    inbox = farm.subscribe()
    loop = asyncio.get_running_loop()
    receiving: asyncio.Future[Any] = asyncio.ensure_future(ws.receive())
    getting: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(inbox.get())
    next_access_check = loop.time() + ACCESS_CHECK

    async def send(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await asyncio.wait_for(ws.send_str(json.dumps(message, separators=(",", ":"))), SEND_TIMEOUT)

    try:
        await _look_for_work(farm, session, loop.time())
        await _look_up(farm, session)
        if session.whole_farm:
            await farm.peer_watch.fresh()
        now = loop.time()
        await send([{"type": "hello", "user": {"name": principal.user, "role": principal.role.value}}]
                   + session.snapshot(now))
        while not ws.closed:
            now = loop.time()
            timeout = max(0.0, min(session.due(), next_access_check) - now)
            done, _ = await asyncio.wait({receiving, getting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            now = loop.time()
            out: list[dict[str, Any]] = []
            if getting in done:
                messages = [getting.result()]
                while not inbox.empty():
                    messages.append(inbox.get_nowait())
                for message in messages:
                    out += session.changed(message, now)
                getting = asyncio.ensure_future(inbox.get())
            if receiving in done:
                frame = receiving.result()
                if frame.type != WSMsgType.TEXT:
                    break
                with contextlib.suppress(ValueError):
                    out += session.received(json.loads(frame.data))
                receiving = asyncio.ensure_future(ws.receive())
            await _look_for_work(farm, session, now)  # the farm's answer, unless the queue or a printer changed
            if now >= next_access_check:
                next_access_check = now + ACCESS_CHECK
                if not await _still_allowed(farm, request):
                    await send([{"type": "logout", "reason": "the key or login of this page ended"}])
                    break
            await _look_up(farm, session)
            if session.whole_farm:
                farm.peer_watch.want()  # the other nodes' channels stay open while this page is
            out += session.tick(loop.time())
            if out:
                await send(out)
    except asyncio.TimeoutError:
        log.info("dashboard push client too slow; disconnected")
    except ConnectionResetError:
        pass
    finally:
        channels.discard(ws)
        await let_go(farm, inbox, (receiving, getting), ws)
    return ws


async def close_channels(app: web.Application) -> None:
    """On shutdown: every open channel closes as "going away", and its page reconnects to the next server."""
    for ws in list(app[OPEN_CHANNELS]):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown"), 1.0)


def add_shutdown(app: web.Application) -> None:
    app[OPEN_CHANNELS] = set()
    app.on_shutdown.append(close_channels)


ROUTES = (("GET", "/api/farm/push", serve),)
