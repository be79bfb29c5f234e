"""In-memory login sessions and their idle expiry, with a clock the test moves."""

from __future__ import annotations

from auth_helpers import FakeClock

from farmctl.auth import AuthService, Principal, Role
from farmctl.store import Store

DAY = 24 * 3600


async def test_a_session_carries_its_principal_and_token(auth: AuthService) -> None:
    token = auth.new_session(Principal("alice", Role.ADMIN))
    assert auth.session(token) == Principal("alice", Role.ADMIN, None, token)
    assert auth.session("nope") is None
    assert auth.new_session(Principal("alice", Role.ADMIN)) != token


async def test_sessions_expire_after_a_day_idle(auth: AuthService, clock: FakeClock) -> None:
    token = auth.new_session(Principal("alice", Role.ADMIN))
    clock.advance(DAY - 1)
    assert auth.session(token) is not None  # use renews the idle time
    clock.advance(DAY - 1)
    assert auth.session(token) is not None
    clock.advance(DAY + 1)
    assert auth.session(token) is None
    clock.advance(-DAY)  # even if the wall clock steps back, an expired session stays gone
    assert auth.session(token) is None


async def test_idle_time_is_configurable(store: Store, clock: FakeClock) -> None:
    auth = AuthService(store, clock=clock, session_idle=60)
    token = auth.new_session(Principal("bob", Role.VIEWER))
    clock.advance(61)
    assert auth.session(token) is None


async def test_ending_a_session(auth: AuthService) -> None:
    token = auth.new_session(Principal("alice", Role.ADMIN))
    auth.end_session(token)
    auth.end_session(token)  # twice is harmless
    assert auth.session(token) is None
