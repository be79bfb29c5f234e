"""Users, API keys, sessions and app-key requests behind one object the HTTP layer and CLI share.

Users, keys (hashes only) and app-key requests live in the store, so ``farmctl keys`` can change
them while the server runs; sessions live in memory. Every change is one store transaction. The
clock is injectable so tests can move time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from farmctl.auth.appkeys import AppKeyRequest, AppKeyRequests, AppKeyState
from farmctl.auth.keys import check_name, check_user_name, key_hash, key_owner, mint_key
from farmctl.auth.passwords import MAX_PASSWORD_CHARS, check_password, hash_password
from farmctl.auth.roles import Principal, Role
from farmctl.auth.sessions import DEFAULT_IDLE_SECONDS, Sessions
from farmctl.auth.throttle import Backoff, TokenBucket
from farmctl.errors import FarmctlError
from farmctl.store import ApiKeyRecord, Store, UserRecord

log = logging.getLogger(__name__)

LAST_USED_EVERY = 60.0  # record a key's use at most this often, so polling clients cause no write storm
_MAX_KEY_CHARS = 200
APP_KEY_BURST = 5
APP_KEY_RATE = 1 / 60
"""App-key requests a client without a key may open: five at once, then one a minute."""


class Throttled(FarmctlError):
    """429: the caller must wait ``retry_after`` seconds before trying again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, 429)
        self.retry_after = max(1, int(retry_after + 0.999))


class AuthService:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time,
                 session_idle: float = DEFAULT_IDLE_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._sessions = Sessions(session_idle)
        self._app_keys = AppKeyRequests(store, clock=clock)
        self._login_failures = Backoff()
        self._app_key_requests = TokenBucket(APP_KEY_BURST, APP_KEY_RATE)

    # Users

    async def add_user(self, name: str, password: str, role: Role = Role.OPERATOR) -> UserRecord:
        """Create a user who can log in. A user that so far only held API keys gets a password."""
        name = check_user_name(name)
        if not password or len(password) > MAX_PASSWORD_CHARS:
            raise FarmctlError(f"a password must be 1 to {MAX_PASSWORD_CHARS} characters")
        hashed = await asyncio.to_thread(hash_password, password)
        async with self._store.transaction() as tx:
            existing = await tx.auth.user(name)
            if existing is not None and existing.password_hash is not None:
                raise FarmctlError(f"user {name!r} already exists", 409)
            if existing is None:
                await tx.auth.insert_user(name, hashed, role.value, self._clock())
            else:
                await tx.auth.update_user(name, hashed, role.value)
            user = await tx.auth.user(name)
        assert user is not None
        log.info("user %r added with role %s", name, role.value)
        return user

    async def users(self) -> list[UserRecord]:
        async with self._store.transaction(write=False) as tx:
            return await tx.auth.users()

    async def verify_password(self, name: str, password: str) -> Principal | None:
        async with self._store.transaction(write=False) as tx:
            user = await tx.auth.user(name.strip())
        stored = None if user is None else user.password_hash
        # Unknown users cost the same scrypt work as wrong passwords, so timing reveals no names.
        ok = await asyncio.to_thread(check_password, password[:MAX_PASSWORD_CHARS], stored)
        if not ok or user is None:
            return None
        return Principal(user.name, Role(user.role))

    async def login(self, name: str, password: str, client: str) -> Principal:
        """A password login from ``client`` (its address). After a few wrong passwords for the same
        user or from the same client, each further try waits longer (1 s doubling to 15 min), and a
        try during the wait is refused before any scrypt work: guessing cannot keep the Pi busy."""
        now = self._clock()
        user_key = f"user:{name.strip().lower()}"
        client_key = f"client:{client}"
        wait = max(self._login_failures.wait(user_key, now), self._login_failures.wait(client_key, now))
        if wait > 0:
            log.warning("login for user %r from %s refused: too many wrong passwords", name, client)
            raise Throttled(f"too many wrong passwords; try again in {max(1, round(wait))} s", wait)
        principal = await self.verify_password(name, password)
        if principal is None:
            self._login_failures.failed(user_key, now)
            self._login_failures.failed(client_key, now)
            log.warning("login failed for user %r from %s", name, client)
            raise FarmctlError("wrong user name or password", 403)
        self._login_failures.succeeded(user_key)
        self._login_failures.succeeded(client_key)
        log.info("user %r logged in from %s", principal.user, client)
        return principal

    # API keys

    async def add_key(self, name: str, role: Role = Role.OPERATOR, user: str | None = None) -> str:
        """Create a key and return its text, which is not stored and cannot be shown again.

        The key belongs to ``user``, or else to a user named like the key (created without a
        password if missing). The key's own role is what it may do.
        """
        name = check_name(name, "key")
        owner = key_owner(name, user)
        async with self._store.transaction() as tx:
            key_id, key = await mint_key(tx, name, role, owner, self._clock())
        log.info("API key %d %r added for user %r with role %s", key_id, name, owner, role.value)
        return key

    async def check_key(self, key: str) -> Principal | None:
        if not key or len(key) > _MAX_KEY_CHARS:
            return None
        digest = key_hash(key)
        async with self._store.transaction(write=False) as tx:
            record = await tx.auth.api_key_by_hash(digest)
        if record is None:
            return None
        now = self._clock()
        if record.last_used is None or now - record.last_used >= LAST_USED_EVERY:
            async with self._store.transaction() as tx:
                await tx.auth.touch_api_key(record.id, now, unless_since=now - LAST_USED_EVERY)
        return Principal(record.user, Role(record.role), key_id=record.id)

    async def list_keys(self) -> list[ApiKeyRecord]:
        async with self._store.transaction(write=False) as tx:
            return await tx.auth.api_keys()

    async def revoke_key(self, key_id: int) -> None:
        """Delete the key and end the sessions that logged in with it."""
        async with self._store.transaction() as tx:
            found = await tx.auth.delete_api_key(key_id)
        if not found:
            raise FarmctlError(f"no API key has id {key_id}", 404)
        ended = self._sessions.end_where(lambda p: p.key_id == key_id)
        log.info("API key %d revoked; %d session(s) ended", key_id, ended)

    async def end_revoked_sessions(self) -> int:
        """End the sessions of keys deleted by another process (``farmctl keys revoke`` while the server runs)."""
        async with self._store.transaction(write=False) as tx:
            alive = {record.id for record in await tx.auth.api_keys()}
        ended = self._sessions.end_where(lambda p: p.key_id is not None and p.key_id not in alive)
        if ended:
            log.info("%d session(s) of revoked API keys ended", ended)
        return ended

    # Sessions

    def new_session(self, principal: Principal) -> str:
        return self._sessions.new(principal, self._clock())

    def session(self, token: str) -> Principal | None:
        return self._sessions.get(token, self._clock())

    def end_session(self, token: str) -> None:
        self._sessions.end(token)

    # App keys (OctoPrint's /plugin/appkeys flow)

    async def request_app_key(self, app: str, user: str | None = None, client: str | None = None) -> str:
        """A new request; the token the app polls with. A client without a key (``client`` its address)
        may open a few at once, then one a minute, so nobody can flood the approvals list."""
        if client is not None and (wait := self._app_key_requests.take(client, self._clock())) > 0:
            raise Throttled(f"too many app key requests; try again in {max(1, round(wait))} s", wait)
        return await self._app_keys.open(app, user)

    async def poll(self, token: str) -> tuple[AppKeyState, str | None]:
        return await self._app_keys.poll(token)

    async def app_key_request_id(self, token: str) -> int:
        return await self._app_keys.find(token)

    async def decide(self, request_id: int, allow: bool, role: Role = Role.OPERATOR, *,
                     by: Principal | None = None, user: str | None = None) -> AppKeyRequest:
        """A person's answer. On allow, the key is named after the app and belongs to ``user``, else
        the user the app asked for, else the approver ``by``, else a user named like the app. The
        command line decides with ``by`` None: whoever can write the database is an admin anyway."""
        if not allow:
            return await self._app_keys.deny(request_id)
        if by is not None and not by.allows(role):
            raise FarmctlError(f"{by.user!r} ({by.role.value}) cannot grant a {role.value} key", 403)
        return await self._app_keys.allow(request_id, role, user=user, approver=None if by is None else by.user)

    async def pending_requests(self) -> list[AppKeyRequest]:
        return await self._app_keys.waiting()
