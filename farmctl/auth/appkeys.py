"""OctoPrint's app-key flow as a state machine kept in memory (no I/O, no clock: ``now`` is passed in).

An app asks for a key and polls with the token it got; a person allows or denies the request on
the dashboard. A request that is not polled for ``POLL_TIMEOUT`` seconds expires, so an app that
gave up leaves nothing waiting for a decision. A granted key is handed out by exactly one poll.

    PENDING --ALLOW--> GRANTED --(collected by a poll: forgotten)
    PENDING --DENY---> DENIED
    PENDING/GRANTED --TIMEOUT--> EXPIRED

Ended requests are kept for ``RETAIN`` seconds so a late poll still learns what happened; an
unknown token polls as EXPIRED, which the HTTP layer answers with 404 like a denied one.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from enum import Enum

from farmctl.errors import FarmctlError

log = logging.getLogger(__name__)

POLL_TIMEOUT = 5.0
RETAIN = 60.0
MAX_PENDING = 50
MAX_APP_CHARS = 100


class AppKeyState(Enum):
    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"
    EXPIRED = "expired"


class AppKeyEvent(Enum):
    ALLOW = "allow"
    DENY = "deny"
    TIMEOUT = "timeout"


_TRANSITIONS: dict[tuple[AppKeyState, AppKeyEvent], AppKeyState] = {
    (AppKeyState.PENDING, AppKeyEvent.ALLOW): AppKeyState.GRANTED,
    (AppKeyState.PENDING, AppKeyEvent.DENY): AppKeyState.DENIED,
    (AppKeyState.PENDING, AppKeyEvent.TIMEOUT): AppKeyState.EXPIRED,
    (AppKeyState.GRANTED, AppKeyEvent.TIMEOUT): AppKeyState.EXPIRED,
}

_WAITING = (AppKeyState.PENDING, AppKeyState.GRANTED)  # states a poll keeps alive


@dataclass(frozen=True, slots=True)
class AppKeyRequest:
    """What the dashboard shows. The granted key itself is never part of it."""

    token: str
    app: str
    user: str | None
    created: float
    last_poll: float
    state: AppKeyState


class AppKeyRequests:
    def __init__(self, poll_timeout: float = POLL_TIMEOUT, retain: float = RETAIN,
                 max_pending: int = MAX_PENDING) -> None:
        self._poll_timeout = poll_timeout
        self._retain = retain
        self._max_pending = max_pending
        self._requests: dict[str, AppKeyRequest] = {}
        self._keys: dict[str, str] = {}  # token -> granted key, until a poll collects it

    def open(self, app: str, user: str | None, now: float) -> AppKeyRequest:
        app = app.strip()
        if not app or len(app) > MAX_APP_CHARS or not app.isprintable():
            raise FarmctlError(f"an app name must be 1 to {MAX_APP_CHARS} printable characters")
        self.expire(now)
        if sum(r.state is AppKeyState.PENDING for r in self._requests.values()) >= self._max_pending:
            raise FarmctlError("too many app key requests are waiting for a decision; try again later", 429)
        request = AppKeyRequest(secrets.token_urlsafe(24), app, user, now, now, AppKeyState.PENDING)
        self._requests[request.token] = request
        log.info("app key requested by %r%s", app, f" for user {user!r}" if user else "")
        return request

    def poll(self, token: str, now: float) -> tuple[AppKeyState, str | None]:
        """Where the request stands; GRANTED carries the key and happens once, then the token is unknown."""
        self.expire(now)
        request = self._requests.get(token)
        if request is None:
            return AppKeyState.EXPIRED, None
        if request.state is AppKeyState.GRANTED:
            del self._requests[token]
            return AppKeyState.GRANTED, self._keys.pop(token)
        if request.state is AppKeyState.PENDING:
            self._requests[token] = dataclasses.replace(request, last_poll=now)
        return request.state, None

    def pending(self, token: str, now: float) -> AppKeyRequest:
        """The request if it still awaits a decision; FarmctlError 404 otherwise."""
        self.expire(now)
        request = self._requests.get(token)
        if request is None or request.state is not AppKeyState.PENDING:
            state = "unknown" if request is None else request.state.value
            raise FarmctlError(f"no app key request is waiting for a decision under that token ({state})", 404)
        return request

    def allow(self, token: str, key: str) -> None:
        self._set_state(token, AppKeyEvent.ALLOW)
        self._keys[token] = key

    def deny(self, token: str) -> None:
        self._set_state(token, AppKeyEvent.DENY)

    def waiting(self, now: float) -> list[AppKeyRequest]:
        """Requests awaiting a decision, oldest first."""
        self.expire(now)
        return sorted((r for r in self._requests.values() if r.state is AppKeyState.PENDING),
                      key=lambda r: r.created)

    def expire(self, now: float) -> None:
        """Time out requests nobody polls, and forget ended ones after ``retain``."""
        for token, request in list(self._requests.items()):
            idle = now - request.last_poll
            if request.state in _WAITING and idle > self._poll_timeout:
                self._set_state(token, AppKeyEvent.TIMEOUT)
            elif request.state not in _WAITING and idle > self._poll_timeout + self._retain:
                del self._requests[token]

    def _set_state(self, token: str, event: AppKeyEvent) -> None:
        """The one mutator of request states: checks the table and logs the move."""
        request = self._requests.get(token)
        if request is None:
            raise FarmctlError(f"cannot {event.value} an unknown app key request", 404)
        new = _TRANSITIONS.get((request.state, event))
        if new is None:
            raise FarmctlError(
                f"cannot {event.value} the app key request of {request.app!r}: it is {request.state.value}", 409
            )
        self._requests[token] = dataclasses.replace(request, state=new)
        if new is AppKeyState.EXPIRED:
            self._keys.pop(token, None)  # an uncollected key stays in the database; only the text is dropped
        log.info("app key request of %r: %s -> %s", request.app, request.state.value, new.value)
