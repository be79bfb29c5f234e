"""Users, API keys, sessions and app-key requests behind one object the HTTP layer and CLI share.

Users and keys live in the store (hashes only); sessions and app-key requests live in memory.
Every change is one store transaction. The clock is injectable so tests can move time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable

from farmctl.auth.appkeys import AppKeyRequest, AppKeyRequests, AppKeyState
from farmctl.auth.passwords import MAX_PASSWORD_CHARS, check_password, hash_password
from farmctl.auth.roles import Principal, Role
from farmctl.auth.sessions import DEFAULT_IDLE_SECONDS, Sessions
from farmctl.errors import FarmctlError
from farmctl.store import ApiKeyRecord, Store, UserRecord

log = logging.getLogger(__name__)

RESERVED_USER = "_api"  # OctoPrint's global-key pseudo user; clients must never see it
LAST_USED_EVERY = 60.0  # record a key's use at most this often, so polling clients cause no write storm
MAX_NAME_CHARS = 100
_MAX_KEY_CHARS = 200


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise FarmctlError(f"a {what} name must be 1 to {MAX_NAME_CHARS} printable characters")
    return name


def _check_user_name(name: str) -> str:
    name = _check_name(name, "user")
    if name.lower() == RESERVED_USER:
        raise FarmctlError(f"{RESERVED_USER!r} is reserved and cannot be a user name")
    if ":" in name:  # the push socket authenticates with "user:session"
        raise FarmctlError(f"a user name cannot contain ':' ({name!r})")
    return name


def key_owner(name: str, user: str | None = None) -> str:
    """The user a new key belongs to: ``user``, else one named like the key (':' becomes '-')."""
    return _check_user_name(user if user is not None else name.replace(":", "-"))


class AuthService:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time,
                 session_idle: float = DEFAULT_IDLE_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._sessions = Sessions(session_idle)
        self._app_keys = AppKeyRequests()
        self._deciding = asyncio.Lock()

    # Users

    async def add_user(self, name: str, password: str, role: Role = Role.OPERATOR) -> UserRecord:
        """Create a user who can log in. A user that so far only held API keys gets a password."""
        name = _check_user_name(name)
        if not password or len(password) > MAX_PASSWORD_CHARS:
            raise FarmctlError(f"a password must be 1 to {MAX_PASSWORD_CHARS} characters")
        hashed = await asyncio.to_thread(hash_password, password)
        async with self._store.transaction() as tx:
            existing = await tx.user(name)
            if existing is not None and existing.password_hash is not None:
                raise FarmctlError(f"user {name!r} already exists", 409)
            if existing is None:
                await tx.insert_user(name, hashed, role.value, self._clock())
            else:
                await tx.update_user(name, hashed, role.value)
            user = await tx.user(name)
        assert user is not None
        log.info("user %r added with role %s", name, role.value)
        return user

    async def users(self) -> list[UserRecord]:
        async with self._store.transaction(write=False) as tx:
            return await tx.users()

    async def verify_password(self, name: str, password: str) -> Principal | None:
        async with self._store.transaction(write=False) as tx:
            user = await tx.user(name.strip())
        stored = None if user is None else user.password_hash
        # Unknown users cost the same scrypt work as wrong passwords, so timing reveals no names.
        ok = await asyncio.to_thread(check_password, password[:MAX_PASSWORD_CHARS], stored)
        if not ok or user is None:
            return None
        return Principal(user.name, Role(user.role))

    # API keys

    async def add_key(self, name: str, role: Role = Role.OPERATOR, user: str | None = None) -> str:
        """Create a key and return its text, which is not stored and cannot be shown again.

        The key belongs to ``user``, or else to a user named like the key (created without a
        password if missing). The key's own role is what it may do.
        """
        name = _check_name(name, "key")
        owner = key_owner(name, user)
        key = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._store.transaction() as tx:
            if await tx.user(owner) is None:
                await tx.insert_user(owner, None, role.value, now)
            key_id = await tx.insert_api_key(name, key_hash(key), owner, role.value, now)
        log.info("API key %d %r added for user %r with role %s", key_id, name, owner, role.value)
        return key

    async def check_key(self, key: str) -> Principal | None:
        if not key or len(key) > _MAX_KEY_CHARS:
            return None
        digest = key_hash(key)
        async with self._store.transaction(write=False) as tx:
            record = await tx.api_key_by_hash(digest)
        if record is None:
            return None
        now = self._clock()
        if record.last_used is None or now - record.last_used >= LAST_USED_EVERY:
            async with self._store.transaction() as tx:
                await tx.touch_api_key(record.id, now, unless_since=now - LAST_USED_EVERY)
        return Principal(record.user, Role(record.role), key_id=record.id)

    async def list_keys(self) -> list[ApiKeyRecord]:
        async with self._store.transaction(write=False) as tx:
            return await tx.api_keys()

    async def revoke_key(self, key_id: int) -> None:
        """Delete the key and end the sessions that logged in with it."""
        async with self._store.transaction() as tx:
            found = await tx.delete_api_key(key_id)
        if not found:
            raise FarmctlError(f"no API key has id {key_id}", 404)
        ended = self._sessions.end_where(lambda p: p.key_id == key_id)
        log.info("API key %d revoked; %d session(s) ended", key_id, ended)

    # Sessions

    def new_session(self, principal: Principal) -> str:
        return self._sessions.new(principal, self._clock())

    def session(self, token: str) -> Principal | None:
        return self._sessions.get(token, self._clock())

    def end_session(self, token: str) -> None:
        self._sessions.end(token)

    # App keys (OctoPrint's /plugin/appkeys flow)

    def request_app_key(self, app: str, user: str | None = None) -> str:
        if user is not None:
            user = _check_user_name(user)
        return self._app_keys.open(app, user, self._clock()).token

    def poll(self, token: str) -> tuple[AppKeyState, str | None]:
        return self._app_keys.poll(token, self._clock())

    async def decide(self, token: str, allow: bool, role: Role = Role.OPERATOR, *,
                     by: Principal | None = None) -> None:
        """A person's answer. On allow, the key is named after the app and belongs to the user the
        app asked for, else to the approver ``by``, else to a user named like the app."""
        async with self._deciding:  # one decision per request, even if two people click at once
            now = self._clock()
            request = self._app_keys.pending(token, now)
            if not allow:
                self._app_keys.deny(token)
                return
            if by is not None and not by.allows(role):
                raise FarmctlError(f"{by.user!r} ({by.role.value}) cannot grant a {role.value} key", 403)
            owner = request.user if request.user is not None else (by.user if by is not None else None)
            key = await self.add_key(request.app, role, owner)
            try:
                self._app_keys.allow(token, key)
            except FarmctlError:  # timed out while the key was written: nobody may get it
                await self._delete_key_text(key)
                raise

    async def _delete_key_text(self, key: str) -> None:
        async with self._store.transaction() as tx:
            record = await tx.api_key_by_hash(key_hash(key))
            if record is not None:
                await tx.delete_api_key(record.id)

    def pending_requests(self) -> list[AppKeyRequest]:
        return self._app_keys.waiting(self._clock())
