"""OctoPrint's app-key flow: request, poll, a person's decision, and the 5 s poll timeout."""

from __future__ import annotations

import pytest
from auth_helpers import FakeClock

from farmctl.auth import AppKeyState, AuthService, Principal, Role
from farmctl.auth.appkeys import AppKeyRequests
from farmctl.errors import FarmctlError

PENDING, GRANTED, DENIED, EXPIRED = AppKeyState.PENDING, AppKeyState.GRANTED, AppKeyState.DENIED, AppKeyState.EXPIRED


async def test_granted_hands_out_the_key_once(auth: AuthService, clock: FakeClock) -> None:
    token = auth.request_app_key("OctoPod")
    assert auth.poll(token) == (PENDING, None)
    [waiting] = auth.pending_requests()
    assert (waiting.token, waiting.app, waiting.user, waiting.state) == (token, "OctoPod", None, PENDING)
    clock.advance(1)
    await auth.decide(token, True, Role.VIEWER)
    assert auth.pending_requests() == []
    state, key = auth.poll(token)
    assert state is GRANTED and key is not None
    principal = await auth.check_key(key)
    assert principal is not None and (principal.user, principal.role) == ("OctoPod", Role.VIEWER)
    assert [k.name for k in await auth.list_keys()] == ["OctoPod"]
    assert auth.poll(token) == (EXPIRED, None)  # the key is never handed out twice


async def test_denied(auth: AuthService, clock: FakeClock) -> None:
    token = auth.request_app_key("Cura")
    await auth.decide(token, False)
    assert auth.poll(token) == (DENIED, None)
    assert auth.poll(token) == (DENIED, None)
    assert await auth.list_keys() == []
    with pytest.raises(FarmctlError) as err:
        await auth.decide(token, True)  # changing one's mind is not a transition
    assert err.value.status == 404
    clock.advance(3600)
    assert auth.poll(token) == (EXPIRED, None)  # ended requests are forgotten eventually


async def test_expires_when_not_polled_for_5_seconds(auth: AuthService, clock: FakeClock) -> None:
    token = auth.request_app_key("Slicer")
    clock.advance(5.0)
    assert auth.poll(token) == (PENDING, None)  # 5 s exactly still counts
    clock.advance(5.01)
    assert auth.poll(token) == (EXPIRED, None)
    assert auth.pending_requests() == []
    with pytest.raises(FarmctlError) as err:
        await auth.decide(token, True, Role.ADMIN)
    assert err.value.status == 404
    assert await auth.list_keys() == []


async def test_polling_keeps_a_request_alive(auth: AuthService, clock: FakeClock) -> None:
    token = auth.request_app_key("Slicer")
    for _ in range(10):
        clock.advance(4)
        assert auth.poll(token) == (PENDING, None)
    assert len(auth.pending_requests()) == 1
    clock.advance(6)
    assert auth.pending_requests() == []  # the dashboard sees it go without a poll


async def test_a_granted_key_not_collected_in_time_is_never_shown(auth: AuthService, clock: FakeClock) -> None:
    token = auth.request_app_key("Gone")
    await auth.decide(token, True)
    clock.advance(6)
    assert auth.poll(token) == (EXPIRED, None)
    [listed] = await auth.list_keys()  # the row stays, revocable, but nobody holds its text
    assert listed.name == "Gone"


async def test_the_key_belongs_to_the_requested_user_else_the_approver(auth: AuthService) -> None:
    asked = auth.request_app_key("Phone", user="alice")
    unasked = auth.request_app_key("Tablet")
    admin = Principal("root", Role.ADMIN)
    await auth.decide(asked, True, Role.OPERATOR, by=admin)
    await auth.decide(unasked, True, Role.OPERATOR, by=admin)
    owners = {k.name: k.user for k in await auth.list_keys()}
    assert owners == {"Phone": "alice", "Tablet": "root"}


async def test_an_approver_cannot_grant_more_than_they_have(auth: AuthService) -> None:
    token = auth.request_app_key("App")
    with pytest.raises(FarmctlError) as err:
        await auth.decide(token, True, Role.ADMIN, by=Principal("op", Role.OPERATOR))
    assert err.value.status == 403
    assert auth.poll(token) == (PENDING, None)
    await auth.decide(token, True, Role.OPERATOR, by=Principal("op", Role.OPERATOR))
    assert auth.poll(token)[0] is GRANTED


@pytest.mark.parametrize("app, user", [("", None), (" ", None), ("x" * 101, None), ("bad\napp", None),
                                       ("App", "_api"), ("App", "a:b")])
def test_bad_requests_are_refused(auth: AuthService, app: str, user: str | None) -> None:
    with pytest.raises(FarmctlError):
        auth.request_app_key(app, user)
    assert auth.pending_requests() == []


def test_unknown_tokens_poll_as_expired(auth: AuthService) -> None:
    assert auth.poll("never-issued") == (EXPIRED, None)


def test_waiting_requests_are_capped() -> None:
    requests = AppKeyRequests(max_pending=3)
    for i in range(3):
        requests.open(f"app{i}", None, now=0.0)
    with pytest.raises(FarmctlError) as err:
        requests.open("one more", None, now=1.0)
    assert err.value.status == 429
    requests.open("after the others expired", None, now=10.0)


def test_illegal_moves_name_the_event_and_the_state() -> None:
    requests = AppKeyRequests()
    token = requests.open("App", None, now=0.0).token
    requests.deny(token)
    with pytest.raises(FarmctlError, match="cannot allow the app key request of 'App': it is denied") as err:
        requests.allow(token, "k")
    assert err.value.status == 409
    with pytest.raises(FarmctlError, match="unknown"):
        requests.deny("nope")
