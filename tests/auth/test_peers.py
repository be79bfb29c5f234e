"""Signed calls between nodes: one secret per farm in the store, signatures that cannot be altered,
replayed, reused late or made without the secret."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from farmctl.auth import Role
from farmctl.auth.peers import NONCE, SIGNATURE, TIME, USER, WINDOW, PeerAuth
from farmctl.store import Store

NOW = 1_700_000_000.0


@pytest.fixture
async def pair(tmp_path: Path) -> tuple[PeerAuth, PeerAuth]:
    """Two nodes on one store: the first makes the secret, the second reads the same."""
    stores = [await Store.open(tmp_path / "farmctl.db") for _ in range(2)]
    a, b = PeerAuth("a"), PeerAuth("b")
    await a.load(stores[0], NOW)
    await b.load(stores[1], NOW)
    for store in stores:
        await store.close()
    return a, b


async def test_a_call_signed_by_one_node_verifies_on_another_with_its_role_and_user(pair) -> None:
    a, b = pair
    headers = a.sign("POST", "/api/printer/command?x=1", b'{"commands": ["M105"]}', NOW, Role.OPERATOR, "ana")
    call = b.verify("POST", "/api/printer/command?x=1", headers, b'{"commands": ["M105"]}', NOW + 1)
    assert call is not None and (call.node, call.role, call.user) == ("a", Role.OPERATOR, "ana")
    assert call.principal.user == "ana (through node a)" and call.principal.role is Role.OPERATOR


@pytest.mark.parametrize("change", ["method", "target", "body", "role", "user", "node", "time", "signature"])
async def test_any_change_to_a_signed_call_makes_it_fail(pair, change: str) -> None:
    a, b = pair
    method, target, body = "POST", "/api/job", b'{"command": "cancel"}'
    headers = a.sign(method, target, body, NOW, Role.VIEWER, "ana")
    if change == "method":
        method = "PUT"
    elif change == "target":
        target = "/api/job?all=1"
    elif change == "body":
        body = b'{"command": "start"}'
    elif change == "role":
        headers["X-Farmctl-Role"] = "admin"
    elif change == "user":
        headers[USER] = "root"
    elif change == "node":
        headers["X-Farmctl-Node"] = "c"
    elif change == "time":
        headers[TIME] = f"{NOW + 1:.3f}"
    else:
        headers[SIGNATURE] = "0" * 64
    assert b.verify(method, target, headers, body, NOW) is None


async def test_a_replayed_or_stale_call_is_refused(pair) -> None:
    a, b = pair
    headers = a.sign("GET", "/api/farm/printers", b"", NOW)
    assert b.verify("GET", "/api/farm/printers", headers, b"", NOW) is not None
    assert b.verify("GET", "/api/farm/printers", headers, b"", NOW + 1) is None, "a nonce counts once"
    late = a.sign("GET", "/api/farm/printers", b"", NOW)
    assert b.verify("GET", "/api/farm/printers", late, b"", NOW + WINDOW + 1) is None
    early = a.sign("GET", "/api/farm/printers", b"", NOW + WINDOW + 1)
    assert b.verify("GET", "/api/farm/printers", early, b"", NOW) is None
    assert b.verify("GET", "/api/farm/printers", {**late, NONCE: "short"}, b"", NOW) is None


async def test_signed_fields_have_one_spelling_each(pair) -> None:
    """A time, nonce or node in another form is refused even when signed with the farm's secret:
    with a trailing newline, two different calls could join into the same signed text."""
    a, b = pair
    for field, odd in ((TIME, f"{NOW:.3f}\n"), (TIME, f" {NOW:.3f}"), (TIME, "1.7e9"), (NONCE, "AB" * 16),
                       (NONCE, "ab" * 16 + "\n"), ("X-Farmctl-Node", "a\n")):
        headers = {**a.sign("GET", "/x", b"", NOW), field: odd}
        headers[SIGNATURE] = a._mac("GET", "/x", headers, hashlib.sha256(b"").hexdigest())  # noqa: SLF001
        assert b.verify("GET", "/x", headers, b"", NOW) is None, (field, odd)
    fine = {**a.sign("GET", "/x", b"", NOW), NONCE: "ab" * 16}
    fine[SIGNATURE] = a._mac("GET", "/x", fine, hashlib.sha256(b"").hexdigest())  # noqa: SLF001
    assert b.verify("GET", "/x", fine, b"", NOW) is not None, "the same way of signing, in the strict forms"


async def test_another_farms_secret_signs_nothing_here(pair, tmp_path: Path) -> None:
    _, b = pair
    store = await Store.open(tmp_path / "other.db")
    stranger = PeerAuth("a")
    await stranger.load(store, NOW)
    await store.close()
    assert b.verify("GET", "/api/farm/printers", stranger.sign("GET", "/api/farm/printers", b"", NOW), b"", NOW) is None
    unloaded = PeerAuth("b")
    assert unloaded.verify("GET", "/x", pair[0].sign("GET", "/x", b"", NOW), b"", NOW) is None
