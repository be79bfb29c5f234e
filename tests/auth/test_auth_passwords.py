"""Roles, password hashes and logging in with a password."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from farmctl.auth import AuthService, Principal, Role
from farmctl.auth.passwords import check_password, hash_password
from farmctl.errors import FarmctlError


@pytest.mark.parametrize(
    "have, need, allowed",
    [
        (Role.ADMIN, Role.ADMIN, True), (Role.ADMIN, Role.OPERATOR, True), (Role.ADMIN, Role.VIEWER, True),
        (Role.OPERATOR, Role.ADMIN, False), (Role.OPERATOR, Role.OPERATOR, True), (Role.OPERATOR, Role.VIEWER, True),
        (Role.VIEWER, Role.ADMIN, False), (Role.VIEWER, Role.OPERATOR, False), (Role.VIEWER, Role.VIEWER, True),
    ],
)
def test_roles_are_ordered(have: Role, need: Role, allowed: bool) -> None:
    assert have.allows(need) is allowed
    assert Principal("u", have).allows(need) is allowed


def test_role_names_parse_and_unknown_ones_are_named() -> None:
    assert Role.parse(" Viewer ") is Role.VIEWER
    with pytest.raises(FarmctlError, match="unknown role 'root'; known roles: admin, operator, viewer"):
        Role.parse("root")


def test_hash_format_and_salt() -> None:
    first, second = hash_password("secret"), hash_password("secret")
    assert first != second  # a fresh salt each time
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
    assert check_password("secret", first) and check_password("secret", second)
    assert not check_password("Secret", first)


@pytest.mark.parametrize(
    "stored", [None, "", "plain", "md5$1$2$3$aa$bb", "scrypt$3$8$1$aa$bb", "scrypt$1048576000$8$1$aa$bb",
               "scrypt$16384$8$1$zz$bb", "scrypt$16384$8$1$$"],
)
def test_malformed_hashes_never_match(stored: str | None) -> None:
    assert not check_password("", stored)
    assert not check_password("plain", stored)


async def test_password_check(auth: AuthService, db_path: Path) -> None:
    await auth.add_user("alice", "correct horse", Role.ADMIN)
    principal = await auth.verify_password("alice", "correct horse")
    assert principal == Principal("alice", Role.ADMIN, None, None)
    assert await auth.verify_password("alice", "correct horse ") is None
    assert await auth.verify_password("bob", "correct horse") is None
    with sqlite3.connect(db_path) as raw:
        [(stored,)] = raw.execute("SELECT password_hash FROM users WHERE name = 'alice'").fetchall()
    assert stored.startswith("scrypt$") and "correct horse" not in stored


async def test_users_are_unique_and_never_named_api(auth: AuthService) -> None:
    await auth.add_user("alice", "pw")
    with pytest.raises(FarmctlError, match="already exists") as err:
        await auth.add_user("alice", "other")
    assert err.value.status == 409
    assert await auth.verify_password("alice", "pw") is not None
    for bad in ("_api", "a:b", "", " "):
        with pytest.raises(FarmctlError):
            await auth.add_user(bad, "pw")
    with pytest.raises(FarmctlError, match="password"):
        await auth.add_user("carol", "")


async def test_a_key_holder_can_be_given_a_password(auth: AuthService) -> None:
    await auth.add_key("ci", Role.VIEWER)
    await auth.add_user("ci", "pw", Role.OPERATOR)
    assert await auth.verify_password("ci", "pw") == Principal("ci", Role.OPERATOR)
