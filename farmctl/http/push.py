"""OctoPrint's push channel: ``/sockjs/websocket`` and the SockJS-framed ``/sockjs/<server>/<session>/websocket``.

Each connection belongs to one printer (``/printers/<name>/sockjs/...``, a printer's own port, or
the main port's default printer). It sends ``connected`` at once and nothing else until the client
authenticates with ``{"auth": "user:session"}``; then ``history`` once, ``current`` every
``CURRENT_INTERVAL`` × throttle seconds, and that printer's events as they happen. ``history``
carries the recent temperature samples and terminal lines; each ``current`` only what came after
the last message this client got, so no sample or line reaches a client twice.

:class:`PushSession` is the protocol: messages in, messages out, ``now`` passed in; it does no I/O.
:func:`_serve` only moves frames. The farm hands changes over through a bounded queue that it
never waits on, so a slow client can miss events but never slows a printer; a client that does not
take a frame within ``SEND_TIMEOUT`` is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import WSMsgType, web

from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.files import FileInfo
from farmctl.http.app import farm_of, printer_of
from farmctl.http.octoprint_common import state_record
from farmctl.http.octoprint_job import job_file_info, job_path, job_record
from farmctl.http.octoprint_printer import offsets_of, temperature_samples
from farmctl.printer import Printer
from farmctl.protocol.replies import Temperatures
from farmctl.terminal import TerminalLines

log = logging.getLogger(__name__)

OCTOPRINT_VERSION = "1.11.8"
CURRENT_INTERVAL = 0.5
HEARTBEAT = 25.0
SEND_TIMEOUT = 10.0
SESSION_CHECK = 10.0
AUTH_TIMEOUT = 5.0
"""Seconds a new connection may stay without its first ``{"auth": ...}`` before it is closed."""
MAX_THROTTLE = 100
MAX_FRAME = 64 * 1024
HISTORY_LINES = 200
"""Terminal lines in ``history``, like the scrollback a client's terminal opens with."""
CURRENT_LINES = 100
"""Terminal lines in one ``current`` at most: on a fast print the oldest of a tick's lines are skipped."""
_HASH = secrets.token_hex(16)  # plugin_hash and config_hash: they change when the server restarts



# -- what a printer looks like to OctoPrint clients (also the dashboard's summary) ------------------

def resends_of(printer: Printer) -> dict[str, Any]:
    stats = printer.sender_stats
    ratio = round(100.0 * stats.lines_resent / stats.lines_sent) if stats.lines_sent else 0
    return {"count": stats.lines_resent, "transmitted": stats.lines_sent, "ratio": ratio}


def connected_message() -> dict[str, Any]:
    return {"connected": {
        "version": OCTOPRINT_VERSION, "display_version": OCTOPRINT_VERSION, "branch": "farmctl",
        "plugin_hash": _HASH, "config_hash": _HASH, "debug": False, "safe_mode": False,
        "online": True, "permissions": [],
    }}


# -- the protocol --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class KnownFile:
    """What a session looked up about the job's upload (``info`` None: it is gone)."""

    path: str
    info: FileInfo | None


class PushSession:
    """One client of one printer's push channel. The ``opened``, ``received``, ``changed`` and ``tick``
    methods return the messages to send.

    The job's upload record is the one thing a message needs from outside memory: :meth:`job_path`
    names it, and the caller hands it in with :meth:`file_found` (from the folder's recent records,
    so most rounds cost no file-system call).
    """

    def __init__(self, farm: Farm, entry: FarmPrinter) -> None:
        self.farm = farm
        self.entry = entry
        self.throttle = 1
        self.user: str | None = None
        self._token: str | None = None
        self._history_sent = False
        self._next_current = 0.0
        self._next_session_check = 0.0
        self._terminal_seq = 0
        self._last_sample: tuple[float, Temperatures] | None = None
        self._file: KnownFile | None = None
        self._auth_deadline: float | None = None

    @property
    def authenticated(self) -> bool:
        return self._token is not None

    def opened(self, now: float) -> list[dict[str, Any]]:
        self._auth_deadline = now + AUTH_TIMEOUT
        return [connected_message()]

    def expired(self, now: float) -> bool:
        """True when the client never authenticated within ``AUTH_TIMEOUT``: the connection is closed,
        so sockets nobody logs in on cannot pile up."""
        return self._auth_deadline is not None and now >= self._auth_deadline

    def received(self, message: Any, now: float) -> list[dict[str, Any]]:
        """A client message; unknown ones are ignored, as OctoPrint does."""
        if not isinstance(message, dict):
            return []
        out: list[dict[str, Any]] = []
        if "throttle" in message:
            value = message["throttle"]
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_THROTTLE:
                self.throttle = value
                self._next_current = min(self._next_current, now + self.interval)
        if "auth" in message:
            out += self._auth(message["auth"], now)
        return out

    @property
    def interval(self) -> float:
        return CURRENT_INTERVAL * self.throttle

    def _auth(self, value: Any, now: float) -> list[dict[str, Any]]:
        user, _, token = value.partition(":") if isinstance(value, str) else ("", "", "")
        principal = self.farm.auth.session(token) if token else None
        if principal is None or principal.user != user:
            self.user = self._token = None
            return [{"reauthRequired": {"reason": "stale"}}]
        self.user, self._token = user, token
        self._auth_deadline = None  # once in, a later reauthRequired waits for the client's new login
        self._next_session_check = now + SESSION_CHECK
        if self._history_sent:
            return []
        self._history_sent = True
        self._next_current = now + self.interval
        printer = self.entry.printer
        return [{"history": self._snapshot(now, printer.terminal.since(0, HISTORY_LINES),
                                           list(printer.temperature_history))}]

    def changed(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """A farm change message: this printer's events and plugin messages (and farm-wide events) go
        out once authenticated."""
        kind = message.get("type")
        if kind not in ("event", "plugin"):
            return []
        if not self.authenticated:
            return []
        printer = message.get("printer")
        if printer is not None and printer != self.entry.name:
            return []
        if kind == "plugin":
            return [{"plugin": {"plugin": message["plugin"], "data": message["data"]}}]
        return [{"event": {"type": message["event"], "payload": message.get("payload") or {}}}]

    def job_path(self) -> str | None:
        """The upload the job is about (None: none)."""
        return job_path(self.farm, self.entry)

    def file_found(self, path: str, info: FileInfo | None) -> None:
        self._file = KnownFile(path, info)

    def _job_info(self) -> FileInfo | None:
        known = self._file
        return known.info if known is not None and known.path == job_path(self.farm, self.entry) else None

    def due(self) -> float | None:
        """When :meth:`tick` next has something to do (None: only a client message can change that)."""
        if self.authenticated:
            return min(self._next_current, self._next_session_check)
        return self._auth_deadline

    def tick(self, now: float) -> list[dict[str, Any]]:
        if not self.authenticated:
            return []
        if now >= self._next_session_check:
            self._next_session_check = now + SESSION_CHECK
            if self.farm.auth.session(self._token or "") is None:
                self.user = self._token = None
                return [{"reauthRequired": {"reason": "logout"}}]
        if now < self._next_current:
            return []
        self._next_current = now + self.interval
        printer = self.entry.printer
        return [{"current": self._snapshot(now, printer.terminal.since(self._terminal_seq, CURRENT_LINES),
                                           self._new_samples())}]

    def _new_samples(self) -> list[tuple[float, Temperatures]]:
        """The temperature samples taken since the last one sent, oldest first (a step or two back from the end)."""
        new = []
        for sample in reversed(self.entry.printer.temperature_history):
            if sample is self._last_sample:
                break
            new.append(sample)
        return new[::-1]

    def _snapshot(self, now: float, lines: TerminalLines,
                  samples: list[tuple[float, Temperatures]]) -> dict[str, Any]:
        """What ``history`` and ``current`` share; ``lines`` and ``samples`` are the new ones, now sent."""
        self._terminal_seq = lines.seq
        if samples:
            self._last_sample = samples[-1]
        printer = self.entry.printer
        job = job_record(self.farm, self.entry, self._job_info(), now)
        return {
            "state": state_record(printer), "job": job["job"], "progress": job["progress"],
            "currentZ": printer.current_z, "offsets": offsets_of(self.entry),
            "temps": temperature_samples(self.entry, samples), "logs": lines.logs, "messages": lines.messages,
            "busyFiles": [], "resends": resends_of(printer),
        }


# -- framing and the connection loop ----------------------------------------------------------------

class Framing(Enum):
    RAW = "raw"  # one JSON message per websocket frame
    SOCKJS = "sockjs"  # "o", "h", "a[...]", "c[code,reason]"


def encode(framing: Framing, messages: list[dict[str, Any]]) -> list[str]:
    if framing == Framing.RAW:
        return [json.dumps(m, separators=(",", ":")) for m in messages]
    return ["a" + json.dumps(messages, separators=(",", ":"))]


def decode(framing: Framing, text: str) -> list[Any]:
    """Client messages in a frame. SockJS clients send ``["<json>", ...]``; octorest sends the bare object."""
    try:
        value = json.loads(text)
    except ValueError:
        return []
    if framing == Framing.RAW or not isinstance(value, list):
        return [value]
    messages = []
    for item in value:
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except ValueError:
                continue
        messages.append(item)
    return messages


async def _look_up_job_file(farm: Farm, session: PushSession) -> None:
    """Give the session the job's upload record. The selection may change while a look-up runs, so
    ask again; nothing awaits between the last answer and the messages built on it."""
    for _ in range(3):
        wanted = session.job_path()
        if wanted is None:
            return
        session.file_found(wanted, await job_file_info(farm, wanted))
        if session.job_path() == wanted:
            return


async def raw_websocket(request: web.Request) -> web.StreamResponse:
    return await _serve(request, Framing.RAW)


async def sockjs_websocket(request: web.Request) -> web.StreamResponse:
    return await _serve(request, Framing.SOCKJS)


async def sockjs_info(request: web.Request) -> web.Response:
    """What a SockJS client asks before it opens the websocket transport."""
    return web.json_response({"websocket": True, "origins": ["*:*"], "cookie_needed": False,
                              "entropy": secrets.randbits(31)})


async def _serve(request: web.Request, framing: Framing) -> web.StreamResponse:
    farm = farm_of(request)
    entry = printer_of(request)  # 404 before the upgrade when the printer is unknown
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    session = PushSession(farm, entry)
    inbox = farm.subscribe()
    loop = asyncio.get_running_loop()
    receiving: asyncio.Future[Any] = asyncio.ensure_future(ws.receive())
    getting: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(inbox.get())
    last_sent = loop.time()

    async def send(frames: list[str]) -> None:
        nonlocal last_sent
        for frame in frames:
            await asyncio.wait_for(ws.send_str(frame), SEND_TIMEOUT)
        last_sent = loop.time()

    try:
        if framing == Framing.SOCKJS:
            await send(["o"])
        await send(encode(framing, session.opened(loop.time())))
        while not ws.closed:
            now = loop.time()
            if session.expired(now):
                log.info("push client of %s sent no auth within %.0f s; disconnected", entry.name, AUTH_TIMEOUT)
                break
            wake = [last_sent + HEARTBEAT] if framing == Framing.SOCKJS else []
            if (due := session.due()) is not None:
                wake.append(due)
            timeout = max(0.0, min(wake) - now) if wake else None
            done, _ = await asyncio.wait({receiving, getting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            now = loop.time()
            out: list[dict[str, Any]] = []
            if getting in done:  # first: what happened before an auth in this round is not for this client
                out += session.changed(getting.result())
                while not inbox.empty():
                    out += session.changed(inbox.get_nowait())
                getting = asyncio.ensure_future(inbox.get())
            await _look_up_job_file(farm, session)
            if receiving in done:
                frame = receiving.result()
                if frame.type != WSMsgType.TEXT:
                    break  # close, error, or binary (which no push client sends)
                for message in decode(framing, frame.data):
                    out += session.received(message, now)
                receiving = asyncio.ensure_future(ws.receive())
            out += session.tick(now)
            if out:
                await send(encode(framing, out))
            elif framing == Framing.SOCKJS and now - last_sent >= HEARTBEAT:
                await send(["h"])
    except asyncio.TimeoutError:
        log.info("push client of %s too slow; disconnected", entry.name)
    except ConnectionResetError:
        pass
    finally:
        await let_go(farm, inbox, (receiving, getting), ws,
                     'c[3000,"Go away!"]' if framing == Framing.SOCKJS else None)
    return ws


async def let_go(farm: Farm, inbox: asyncio.Queue[dict[str, Any]], pending: Iterable[asyncio.Future[Any]],
                 ws: web.WebSocketResponse, goodbye: str | None = None) -> None:
    """A push connection's end (OctoPrint's or the dashboard's): off the farm's subscribers, its
    pending reads cancelled, the socket closed, after ``goodbye`` when there is one."""
    farm.unsubscribe(inbox)
    for future in pending:
        future.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await future
    if not ws.closed:
        if goodbye is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.send_str(goodbye), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 1.0)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/sockjs/websocket", raw_websocket)
    app.router.add_get(f"{prefix}/sockjs/info", sockjs_info)
    app.router.add_get(f"{prefix}/sockjs/{{server}}/{{session}}/websocket", sockjs_websocket)
