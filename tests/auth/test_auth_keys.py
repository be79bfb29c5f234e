"""API keys: round trip, only hashes on disk, revocation, owners and the last-used throttle."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from auth_helpers import FakeClock

from farmctl.auth import AuthService, Principal, Role
from farmctl.errors import FarmctlError
from farmctl.store import Store


async def test_a_new_key_is_accepted_with_its_role(auth: AuthService) -> None:
    key = await auth.add_key("OctoPod", Role.VIEWER)
    principal = await auth.check_key(key)
    assert principal is not None
    assert (principal.user, principal.role, principal.session) == ("OctoPod", Role.VIEWER, None)
    [listed] = await auth.list_keys()
    assert principal.key_id == listed.id
    assert (listed.name, listed.user, listed.role) == ("OctoPod", "OctoPod", "viewer")


async def test_keys_are_random_and_unknown_keys_are_refused(auth: AuthService) -> None:
    first = await auth.add_key("a")
    second = await auth.add_key("a")
    assert first != second and len(first) >= 43
    assert await auth.check_key(first[:-1] + ("x" if first[-1] != "x" else "y")) is None
    assert await auth.check_key("") is None
    assert await auth.check_key("k" * 10_000) is None


async def test_only_the_hash_reaches_the_database_file(auth: AuthService, store: Store, db_path: Path) -> None:
    key = await auth.add_key("ci", Role.ADMIN)
    await store.close()  # checkpoint the WAL so every byte is in the main file
    files = [db_path, *db_path.parent.glob(db_path.name + "-*")]
    data = b"".join(p.read_bytes() for p in files if p.exists())
    assert key.encode() not in data
    with sqlite3.connect(db_path) as raw:
        [(stored,)] = raw.execute("SELECT key_hash FROM api_keys").fetchall()
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    # The record a caller can list carries no hash either.
    again = await Store.open(db_path)
    try:
        reopened = AuthService(again)
        [listed] = await reopened.list_keys()
        assert key not in repr(listed) and stored not in repr(listed)
        assert (await reopened.check_key(key)) is not None
    finally:
        await again.close()


async def test_a_revoked_key_is_refused(auth: AuthService) -> None:
    kept = await auth.add_key("kept")
    doomed = await auth.add_key("doomed")
    doomed_id = (await auth.check_key(doomed)).key_id  # type: ignore[union-attr]
    await auth.revoke_key(doomed_id)
    assert await auth.check_key(doomed) is None
    assert await auth.check_key(kept) is not None
    assert [k.name for k in await auth.list_keys()] == ["kept"]
    with pytest.raises(FarmctlError) as err:
        await auth.revoke_key(doomed_id)
    assert err.value.status == 404


async def test_revoking_a_key_ends_the_sessions_it_opened(auth: AuthService) -> None:
    key = await auth.add_key("app")
    principal = await auth.check_key(key)
    assert principal is not None
    token = auth.new_session(principal)
    other = auth.new_session(Principal("someone", Role.VIEWER))
    await auth.revoke_key(principal.key_id)  # type: ignore[arg-type]
    assert auth.session(token) is None
    assert auth.session(other) is not None


async def test_last_used_is_written_at_most_once_a_minute(auth: AuthService, clock: FakeClock) -> None:
    key = await auth.add_key("poller")
    [listed] = await auth.list_keys()
    assert listed.last_used is None
    first_use = clock.now
    await auth.check_key(key)
    for _ in range(5):
        clock.advance(10)
        await auth.check_key(key)
    [listed] = await auth.list_keys()
    assert listed.last_used == first_use  # 50 s of polling: still the first write
    clock.advance(10)
    await auth.check_key(key)
    [listed] = await auth.list_keys()
    assert listed.last_used == clock.now


async def test_a_key_belongs_to_a_user_named_like_it_unless_told(auth: AuthService) -> None:
    await auth.add_user("alice", "pw", Role.ADMIN)
    own = await auth.check_key(await auth.add_key("Printer App: v2", Role.OPERATOR))
    alices = await auth.check_key(await auth.add_key("phone", Role.VIEWER, user="alice"))
    assert own is not None and own.user == "Printer App- v2"
    assert alices is not None and (alices.user, alices.role) == ("alice", Role.VIEWER)
    users = {u.name: u for u in await auth.users()}
    assert users["Printer App- v2"].password_hash is None  # a key holder cannot log in
    assert await auth.verify_password("Printer App- v2", "") is None


@pytest.mark.parametrize("name, user", [("_api", None), ("_API", None), ("x", "_api"), ("x", " _Api ")])
async def test_no_key_ever_belongs_to_a_user_named_api(auth: AuthService, name: str, user: str | None) -> None:
    with pytest.raises(FarmctlError, match="reserved"):
        await auth.add_key(name, Role.ADMIN, user)
    assert await auth.list_keys() == []
    assert await auth.users() == []


async def test_the_schema_refuses_an_api_user_and_unknown_roles(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as tx:
            await tx.auth.insert_user("_api", None, "admin", 0.0)
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as tx:
            await tx.auth.insert_user("bob", None, "root", 0.0)
    assert {r.value for r in Role} == {"admin", "operator", "viewer"}  # what the CHECK lists
