"""Login sessions, kept in memory: a restart logs everyone out, which is what OctoPrint does too.

No clock is read here; every call takes ``now`` (seconds) from the caller.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable

from farmctl.auth.roles import Principal

DEFAULT_IDLE_SECONDS = 24 * 3600.0
MAX_SESSIONS = 10_000


class Sessions:
    """Token -> principal, forgotten after ``idle`` seconds without use."""

    def __init__(self, idle: float = DEFAULT_IDLE_SECONDS, max_sessions: int = MAX_SESSIONS) -> None:
        self._idle = idle
        self._max = max_sessions
        self._entries: dict[str, tuple[Principal, float]] = {}  # token -> (principal, last use)

    def __len__(self) -> int:
        return len(self._entries)

    def new(self, principal: Principal, now: float) -> str:
        self.prune(now)
        if len(self._entries) >= self._max:
            # Drop the least recently used rather than refuse a login.
            oldest = min(self._entries, key=lambda t: self._entries[t][1])
            del self._entries[oldest]
        token = secrets.token_urlsafe(32)
        self._entries[token] = (dataclasses.replace(principal, session=token), now)
        return token

    def get(self, token: str, now: float) -> Principal | None:
        """The session's principal, renewing its idle time; None when unknown or expired."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, last = entry
        if now - last > self._idle:
            del self._entries[token]
            return None
        self._entries[token] = (principal, max(now, last))
        return principal

    def end(self, token: str) -> bool:
        return self._entries.pop(token, None) is not None

    def end_where(self, match: Callable[[Principal], bool]) -> int:
        """End every session whose principal matches (e.g. all made from a revoked key)."""
        doomed = [t for t, (p, _) in self._entries.items() if match(p)]
        for token in doomed:
            del self._entries[token]
        return len(doomed)

    def prune(self, now: float) -> None:
        for token in [t for t, (_, last) in self._entries.items() if now - last > self._idle]:
            del self._entries[token]
