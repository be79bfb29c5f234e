"""Password guesses cost a growing wait per user and per client, and a try during the wait is
refused before any scrypt work; many callers cannot grow the tables without bound."""

from __future__ import annotations

import time

import pytest
from auth_helpers import FakeClock

from farmctl.auth import AuthService, Role, Throttled
from farmctl.auth.throttle import FREE_FAILURES, Backoff, TokenBucket
from farmctl.errors import FarmctlError


async def test_wrong_passwords_wait_longer_and_cost_no_scrypt_while_waiting(auth: AuthService, clock: FakeClock) -> None:
    await auth.add_user("ann", "right", Role.OPERATOR)
    for _ in range(FREE_FAILURES):
        with pytest.raises(FarmctlError) as wrong:
            await auth.login("ann", "guess", client="10.0.0.9")
        assert wrong.value.status == 403
    waits = []
    for _ in range(4):
        started = time.perf_counter()
        with pytest.raises(FarmctlError) as wrong:
            await auth.login("ann", "guess", client="10.0.0.9")  # costs a scrypt run, then the wait grows
        guess_cost = time.perf_counter() - started
        assert wrong.value.status == 403
        started = time.perf_counter()
        with pytest.raises(Throttled) as refused:
            await auth.login("ann", "right", client="10.0.0.7")  # even the right password, from elsewhere
        assert time.perf_counter() - started < guess_cost / 5  # refused before any scrypt work
        waits.append(refused.value.retry_after)
        clock.advance(refused.value.retry_after)
    assert waits == [1, 2, 4, 8]
    assert (await auth.login("ann", "right", client="10.0.0.7")).user == "ann"
    assert (await auth.login("ann", "right", client="10.0.0.9")).user == "ann"  # success forgets


async def test_a_guessing_client_does_not_lock_out_the_user_from_elsewhere_for_long(auth: AuthService,
                                                                                    clock: FakeClock) -> None:
    await auth.add_user("ann", "right", Role.OPERATOR)
    for n in range(FREE_FAILURES + 1):
        with pytest.raises(FarmctlError):
            await auth.login(f"nobody{n}", "guess", client="10.0.0.9")  # a different name each time
    with pytest.raises(Throttled):
        await auth.login("ann", "right", client="10.0.0.9")  # that client waits
    assert (await auth.login("ann", "right", client="10.0.0.7")).user == "ann"  # ann elsewhere does not


def test_tables_stay_bounded_and_buckets_refill() -> None:
    backoff = Backoff(max_entries=100)
    for n in range(1000):
        backoff.failed(f"client:{n}", 0.0)
    assert len(backoff._entries) == 100
    bucket = TokenBucket(burst=2, rate=0.5)
    assert [bucket.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 2.0]
    assert bucket.take("a", 2.0) == 0.0 and bucket.take("b", 2.0) == 0.0
