"""OctoPrint's app-key flow over a real SQLite file: request, poll, a person's decision (here or in a
second process's connection), the key handed out exactly once, and the 5 s poll timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from auth_helpers import FakeClock

from farmctl.auth import AppKeyState, AuthService, Principal, Role
from farmctl.auth.appkeys import AppKeyEvent, AppKeyRequests
from farmctl.errors import FarmctlError
from farmctl.store import Store

PENDING, GRANTED, DENIED, EXPIRED = AppKeyState.PENDING, AppKeyState.GRANTED, AppKeyState.DENIED, AppKeyState.EXPIRED
COLLECTED = AppKeyState.COLLECTED


async def test_granted_hands_out_the_key_once(auth: AuthService, clock: FakeClock) -> None:
    token = await auth.request_app_key("OctoPod")
    assert await auth.poll(token) == (PENDING, None)
    [waiting] = await auth.pending_requests()
    assert (waiting.app, waiting.user, waiting.state) == ("OctoPod", None, PENDING)
    clock.advance(1)
    granted = await auth.decide(waiting.id, True, Role.VIEWER)
    assert (granted.state, granted.role, granted.owner) == (GRANTED, Role.VIEWER, "OctoPod")
    assert await auth.pending_requests() == []
    assert await auth.list_keys() == []  # approval makes no key: the poll that collects it does
    state, key = await auth.poll(token)
    assert state is GRANTED and key is not None
    principal = await auth.check_key(key)
    assert principal is not None and (principal.user, principal.role) == ("OctoPod", Role.VIEWER)
    assert [k.name for k in await auth.list_keys()] == ["OctoPod"]
    assert await auth.poll(token) == (COLLECTED, None)  # the key is never handed out twice
    clock.advance(3600)
    assert await auth.poll(token) == (EXPIRED, None)  # and the ended request is forgotten eventually


async def test_denied(auth: AuthService, clock: FakeClock) -> None:
    token = await auth.request_app_key("Cura")
    [request] = await auth.pending_requests()
    denied = await auth.decide(request.id, False)
    assert denied.state is DENIED
    assert await auth.poll(token) == (DENIED, None)
    assert await auth.poll(token) == (DENIED, None)
    assert await auth.list_keys() == []
    with pytest.raises(FarmctlError, match="denied") as err:
        await auth.decide(request.id, True)  # changing one's mind is not a transition
    assert err.value.status == 404
    clock.advance(3600)
    assert await auth.poll(token) == (EXPIRED, None)


async def test_expires_when_not_polled_for_5_seconds(auth: AuthService, clock: FakeClock) -> None:
    token = await auth.request_app_key("Slicer")
    [request] = await auth.pending_requests()
    clock.advance(5.0)
    assert await auth.poll(token) == (PENDING, None)  # 5 s exactly still counts
    clock.advance(5.01)
    assert await auth.poll(token) == (EXPIRED, None)
    assert await auth.pending_requests() == []
    with pytest.raises(FarmctlError, match="expired") as err:
        await auth.decide(request.id, True, Role.ADMIN)
    assert err.value.status == 404
    assert await auth.list_keys() == []


async def test_polling_keeps_a_request_alive(auth: AuthService, clock: FakeClock) -> None:
    token = await auth.request_app_key("Slicer")
    for _ in range(10):
        clock.advance(4)
        assert await auth.poll(token) == (PENDING, None)
    assert len(await auth.pending_requests()) == 1
    clock.advance(6)
    assert await auth.pending_requests() == []  # the dashboard sees it go without a poll


async def test_a_granted_key_not_collected_in_time_never_exists(auth: AuthService, clock: FakeClock) -> None:
    token = await auth.request_app_key("Gone")
    [request] = await auth.pending_requests()
    await auth.decide(request.id, True)
    clock.advance(6)
    assert await auth.poll(token) == (EXPIRED, None)
    assert await auth.list_keys() == []  # nothing to revoke: the key was never made


async def test_the_key_belongs_to_the_chosen_user_else_the_asked_one_else_the_approver(auth: AuthService) -> None:
    tokens = {app: await auth.request_app_key(app, user) for app, user in
              [("Phone", "alice"), ("Tablet", None), ("Laptop", "alice"), ("Robot", None)]}
    ids = {r.app: r.id for r in await auth.pending_requests()}
    admin = Principal("root", Role.ADMIN)
    await auth.decide(ids["Phone"], True, Role.OPERATOR, by=admin)
    await auth.decide(ids["Tablet"], True, Role.OPERATOR, by=admin)
    await auth.decide(ids["Laptop"], True, Role.OPERATOR, by=admin, user="bob")
    await auth.decide(ids["Robot"], True, Role.OPERATOR)  # the command line: no approver
    for token in tokens.values():
        assert (await auth.poll(token))[0] is GRANTED
    owners = {k.name: k.user for k in await auth.list_keys()}
    assert owners == {"Phone": "alice", "Tablet": "root", "Laptop": "bob", "Robot": "Robot"}


async def test_an_approver_cannot_grant_more_than_they_have(auth: AuthService) -> None:
    token = await auth.request_app_key("App")
    [request] = await auth.pending_requests()
    with pytest.raises(FarmctlError) as err:
        await auth.decide(request.id, True, Role.ADMIN, by=Principal("op", Role.OPERATOR))
    assert err.value.status == 403
    assert await auth.poll(token) == (PENDING, None)
    await auth.decide(request.id, True, Role.OPERATOR, by=Principal("op", Role.OPERATOR))
    assert (await auth.poll(token))[0] is GRANTED


@pytest.mark.parametrize("app, user", [("", None), (" ", None), ("x" * 101, None), ("bad\napp", None),
                                       ("App", "_api"), ("App", "a:b")])
async def test_bad_requests_are_refused(auth: AuthService, app: str, user: str | None) -> None:
    with pytest.raises(FarmctlError):
        await auth.request_app_key(app, user)
    assert await auth.pending_requests() == []


async def test_unknown_tokens_poll_as_expired_and_unknown_ids_are_404(auth: AuthService) -> None:
    assert await auth.poll("never-issued") == (EXPIRED, None)
    assert await auth.poll("") == (EXPIRED, None)
    assert await auth.poll("t" * 10_000) == (EXPIRED, None)
    with pytest.raises(FarmctlError, match="unknown") as err:
        await auth.decide(42, True)
    assert err.value.status == 404


async def test_waiting_requests_are_capped(store: Store, clock: FakeClock) -> None:
    requests = AppKeyRequests(store, clock=clock, max_pending=3)
    for i in range(3):
        await requests.open(f"app{i}", None)
    with pytest.raises(FarmctlError) as err:
        await requests.open("one more", None)
    assert err.value.status == 429
    clock.advance(10)
    await requests.open("after the others expired", None)


async def test_illegal_moves_name_the_event_and_the_state(store: Store, clock: FakeClock) -> None:
    requests = AppKeyRequests(store, clock=clock)
    await requests.open("App", None)
    [request] = await requests.waiting()
    denied = await requests.deny(request.id)
    async with store.transaction() as tx:
        with pytest.raises(FarmctlError, match="cannot allow the app key request of 'App': it is denied") as err:
            await requests._move(tx, denied, AppKeyEvent.ALLOW, role=Role.ADMIN, owner="x")
    assert err.value.status == 409


async def test_a_second_connection_decides_and_exactly_one_poll_gets_the_key(
        auth: AuthService, db_path: Path, clock: FakeClock) -> None:
    """As ``farmctl keys approve`` does while the server runs: another connection to the same file."""
    token = await auth.request_app_key("Home Assistant")
    other_store = await Store.open(db_path)
    try:
        other = AuthService(other_store, clock=clock)
        [request] = await other.pending_requests()
        assert request.app == "Home Assistant"
        await other.decide(request.id, True, Role.OPERATOR)
        answers = await asyncio.gather(auth.poll(token), other.poll(token), auth.poll(token))
    finally:
        await other_store.close()
    keys = [key for state, key in answers if state is GRANTED]
    assert len(keys) == 1 and sorted(s.value for s, _ in answers) == ["collected", "collected", "granted"]
    assert await auth.check_key(keys[0]) is not None


async def test_neither_the_token_nor_the_key_reaches_the_database_file(
        auth: AuthService, store: Store, db_path: Path) -> None:
    token = await auth.request_app_key("Cura")
    [request] = await auth.pending_requests()
    await auth.decide(request.id, True)
    state, key = await auth.poll(token)
    assert state is GRANTED and key
    await store.close()  # checkpoint the WAL so every byte is in the main file
    data = b"".join(p.read_bytes() for p in [db_path, *db_path.parent.glob(db_path.name + "-*")] if p.exists())
    assert token.encode() not in data and key.encode() not in data
