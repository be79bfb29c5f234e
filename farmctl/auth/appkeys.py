"""OctoPrint's app-key flow, kept in the database so that a second process (``farmctl keys approve``)
can decide a request while the server answers the app's polls.

An app asks for a key and polls with the token it got; a person allows or denies the request on
the dashboard or from the command line. A request that is not polled for ``POLL_TIMEOUT`` seconds
expires, so an app that gave up leaves nothing waiting for a decision.

    PENDING --ALLOW--> GRANTED --COLLECT--> COLLECTED
    PENDING --DENY---> DENIED
    PENDING/GRANTED --TIMEOUT--> EXPIRED

Approval stores only the role and the owner. The key is minted by the poll that collects it, in
the same transaction that moves GRANTED to COLLECTED: its text exists only in the server's memory
and in that one response, never on disk (not even encrypted), and whichever process approved
never sees it. The compare-and-set on the state means a second poll finds COLLECTED, so the key
is handed out exactly once. Only the SHA-256 of a poll token is stored, so reading the database
does not let anyone collect a key either. A granted request that expires leaves no key behind.

Ended requests are kept for ``RETAIN`` seconds so a late poll still learns what happened; an
unknown token polls as EXPIRED, which the HTTP layer answers with 404 like a denied one.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from farmctl.auth.keys import check_name, check_user_name, key_hash, key_owner, mint_key
from farmctl.auth.roles import Role
from farmctl.errors import FarmctlError
from farmctl.store import AppKeyRequestRecord, Store, Tx

log = logging.getLogger(__name__)

POLL_TIMEOUT = 5.0
RETAIN = 60.0
MAX_PENDING = 50
_MAX_TOKEN_CHARS = 200


class AppKeyState(Enum):
    PENDING = "pending"
    GRANTED = "granted"  # approved; the key is minted by the next poll
    COLLECTED = "collected"  # a poll took the key
    DENIED = "denied"
    EXPIRED = "expired"


class AppKeyEvent(Enum):
    ALLOW = "allow"
    DENY = "deny"
    COLLECT = "collect"
    TIMEOUT = "timeout"


_S, _E = AppKeyState, AppKeyEvent
_TRANSITIONS: dict[tuple[AppKeyState, AppKeyEvent], AppKeyState] = {
    (_S.PENDING, _E.ALLOW): _S.GRANTED,
    (_S.PENDING, _E.DENY): _S.DENIED,
    (_S.PENDING, _E.TIMEOUT): _S.EXPIRED,
    (_S.GRANTED, _E.COLLECT): _S.COLLECTED,
    (_S.GRANTED, _E.TIMEOUT): _S.EXPIRED,
}

_WAITING = (_S.PENDING, _S.GRANTED)  # states a poll keeps alive


@dataclass(frozen=True, slots=True)
class AppKeyRequest:
    """What the dashboard and ``farmctl keys requests`` show: never the token, never a key."""

    id: int
    app: str
    user: str | None
    created: float
    last_poll: float
    state: AppKeyState
    role: Role | None = None  # once granted
    owner: str | None = None  # once granted

    @classmethod
    def of(cls, record: AppKeyRequestRecord) -> AppKeyRequest:
        return cls(record.id, record.app, record.user, record.created, record.last_poll, AppKeyState(record.state),
                   None if record.role is None else Role(record.role), record.owner)


class AppKeyRequests:
    """The flow over the store; each call is one transaction, each state change goes through ``_move``."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time, poll_timeout: float = POLL_TIMEOUT,
                 retain: float = RETAIN, max_pending: int = MAX_PENDING) -> None:
        self._store = store
        self._clock = clock
        self._poll_timeout = poll_timeout
        self._retain = retain
        self._max_pending = max_pending

    async def open(self, app: str, user: str | None) -> str:
        """A new request; the token the app polls with (returned once, stored only as a hash)."""
        app = check_name(app, "app")
        if user is not None:
            user = check_user_name(user)
        now = self._clock()
        token = secrets.token_urlsafe(24)
        async with self._store.transaction() as tx:
            waiting = await self._sweep(tx, now)
            if sum(r.state is _S.PENDING for r in waiting) >= self._max_pending:
                raise FarmctlError("too many app key requests are waiting for a decision; try again later", 429)
            request_id = await tx.app_keys.insert(key_hash(token), app, user, now)
        log.info("app key request %d by %r%s", request_id, app, f" for user {user!r}" if user else "")
        return token

    async def poll(self, token: str) -> tuple[AppKeyState, str | None]:
        """Where the request stands. GRANTED carries the key and happens once; later polls see COLLECTED."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return _S.EXPIRED, None
        now = self._clock()
        async with self._store.transaction() as tx:
            record = await tx.app_keys.by_token(key_hash(token))
            if record is None:
                return _S.EXPIRED, None
            request = await self._expire_if_idle(tx, AppKeyRequest.of(record), now)
            if self._forgotten(request, now):
                await tx.app_keys.delete([request.id])
                return _S.EXPIRED, None
            if request.state is _S.GRANTED:
                assert request.role is not None and request.owner is not None  # the schema says so
                await self._move(tx, request, _E.COLLECT)
                key_id, key = await mint_key(tx, request.app, request.role, request.owner, now)
                log.info("app key request %d collected: API key %d for user %r, role %s",
                         request.id, key_id, request.owner, request.role.value)
                return _S.GRANTED, key
            if request.state is _S.PENDING:
                await tx.app_keys.touch(request.id, now)
            return request.state, None

    async def find(self, token: str) -> int:
        """The id of the request polled with ``token``; 404 if there is none."""
        async with self._store.transaction(write=False) as tx:
            record = await tx.app_keys.by_token(key_hash(token[:_MAX_TOKEN_CHARS]))
        if record is None:
            raise FarmctlError("no app key request has that token", 404)
        return record.id

    async def allow(self, request_id: int, role: Role, *, user: str | None = None,
                    approver: str | None = None) -> AppKeyRequest:
        """Grant: the key will belong to ``user``, else the user the app asked for, else ``approver``,
        else a user named like the app."""
        async with self._store.transaction() as tx:
            request = await self._pending(tx, request_id)
            owner = key_owner(request.app, user or request.user or approver)
            return await self._move(tx, request, _E.ALLOW, role=role, owner=owner)

    async def deny(self, request_id: int) -> AppKeyRequest:
        async with self._store.transaction() as tx:
            return await self._move(tx, await self._pending(tx, request_id), _E.DENY)

    async def waiting(self) -> list[AppKeyRequest]:
        """Requests awaiting a decision, oldest first."""
        async with self._store.transaction() as tx:
            return [r for r in await self._sweep(tx, self._clock()) if r.state is _S.PENDING]

    async def _pending(self, tx: Tx, request_id: int) -> AppKeyRequest:
        """The request if it still awaits a decision; FarmctlError 404 otherwise."""
        record = await tx.app_keys.get(request_id)
        request = None if record is None else await self._expire_if_idle(tx, AppKeyRequest.of(record), self._clock())
        if request is None or request.state is not _S.PENDING:
            state = "unknown" if request is None else request.state.value
            raise FarmctlError(f"no app key request {request_id} is waiting for a decision ({state})", 404)
        return request

    async def _sweep(self, tx: Tx, now: float) -> list[AppKeyRequest]:
        """Time out requests nobody polls, forget ended ones after ``retain``; the rest, oldest first."""
        kept, forgotten = [], []
        for record in await tx.app_keys.all():
            request = await self._expire_if_idle(tx, AppKeyRequest.of(record), now)
            if self._forgotten(request, now):
                forgotten.append(request.id)
            else:
                kept.append(request)
        await tx.app_keys.delete(forgotten)
        return kept

    def _forgotten(self, request: AppKeyRequest, now: float) -> bool:
        return request.state not in _WAITING and now - request.last_poll > self._poll_timeout + self._retain

    async def _expire_if_idle(self, tx: Tx, request: AppKeyRequest, now: float) -> AppKeyRequest:
        if request.state in _WAITING and now - request.last_poll > self._poll_timeout:
            return await self._move(tx, request, _E.TIMEOUT)
        return request

    async def _move(self, tx: Tx, request: AppKeyRequest, event: AppKeyEvent, *, role: Role | None = None,
                    owner: str | None = None) -> AppKeyRequest:
        """The one mutator of request states: checks the table, changes the row only if no one else
        did first, and logs the move."""
        new = _TRANSITIONS.get((request.state, event))
        if new is None:
            raise FarmctlError(
                f"cannot {event.value} the app key request of {request.app!r}: it is {request.state.value}", 409)
        moved = await tx.app_keys.move(request.id, request.state.value, new.value,
                                              role=None if role is None else role.value, owner=owner)
        if not moved:
            raise FarmctlError(f"the app key request of {request.app!r} was decided elsewhere meanwhile", 409)
        log.info("app key request %d of %r: %s -> %s", request.id, request.app, request.state.value, new.value)
        return dataclasses.replace(request, state=new, role=role or request.role, owner=owner or request.owner)
