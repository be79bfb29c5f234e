"""Limits on what an unauthenticated caller can make the Pi do: password guesses and app-key requests.

No clock is read here; every call takes ``now`` (seconds) from the caller. Both tables are
bounded, so a flood of callers or names cannot grow memory without limit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

FREE_FAILURES = 5
"""Wrong passwords allowed (per client, per user) before each further one costs a wait."""
FIRST_WAIT = 1.0
MAX_WAIT = 900.0
FORGET_AFTER = 3600.0
"""A name or client with no failure for this long starts afresh."""
MAX_ENTRIES = 10_000


@dataclass(slots=True)
class _Failures:
    count: int
    locked_until: float
    last: float


class Backoff:
    """Failures per key (a client's address, a user name) with a wait that doubles past the free ones."""

    def __init__(self, free: int = FREE_FAILURES, first_wait: float = FIRST_WAIT, max_wait: float = MAX_WAIT,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._free = free
        self._first = first_wait
        self._max = max_wait
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Failures] = OrderedDict()

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        if now - entry.last > FORGET_AFTER and now >= entry.locked_until:
            del self._entries[key]
            return 0.0
        return max(0.0, entry.locked_until - now)

    def failed(self, key: str, now: float) -> None:
        entry = self._entries.pop(key, None) or _Failures(0, 0.0, now)
        entry.count += 1
        entry.last = now
        beyond = entry.count - self._free
        if beyond > 0:
            entry.locked_until = now + min(self._max, self._first * 2 ** min(beyond - 1, 30))
        self._entries[key] = entry  # most recent last
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._entries.pop(key, None)


class TokenBucket:
    """At most ``burst`` requests at once per key, refilled at ``rate`` per second."""

    def __init__(self, burst: int, rate: float, max_entries: int = MAX_ENTRIES) -> None:
        self._burst = float(burst)
        self._rate = rate
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, now: float) -> float:
        """Take one token: 0 when allowed, else the seconds until one is free (nothing is taken)."""
        tokens, at = self._entries.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - at) * self._rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._rate
        self._entries[key] = (tokens, now)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return wait
