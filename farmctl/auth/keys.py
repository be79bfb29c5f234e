"""What an API key is and whose it is: valid names, the stored hash, and minting a key in a transaction.

Shared by ``farmctl keys add`` and the app-key flow, so a key made either way is made the same way.
"""

from __future__ import annotations

import hashlib
import secrets

from farmctl.auth.roles import Role
from farmctl.errors import FarmctlError
from farmctl.store import Tx

RESERVED_USER = "_api"  # OctoPrint's global-key pseudo user; clients must never see it
MAX_NAME_CHARS = 100


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise FarmctlError(f"a {what} name must be 1 to {MAX_NAME_CHARS} printable characters")
    return name


def check_user_name(name: str) -> str:
    name = check_name(name, "user")
    if name.lower() == RESERVED_USER:
        raise FarmctlError(f"{RESERVED_USER!r} is reserved and cannot be a user name")
    if ":" in name:  # the push socket authenticates with "user:session"
        raise FarmctlError(f"a user name cannot contain ':' ({name!r})")
    return name


def key_owner(name: str, user: str | None = None) -> str:
    """The user a new key belongs to: ``user``, else one named like the key (':' becomes '-')."""
    return check_user_name(user if user is not None else name.replace(":", "-"))


async def mint_key(tx: Tx, name: str, role: Role, owner: str, now: float) -> tuple[int, str]:
    """Store a new key's hash (creating ``owner`` without a password if missing); its id and text.

    The text is returned once and stored nowhere: whoever calls this must hand it over or lose it.
    """
    key = secrets.token_urlsafe(32)
    if await tx.auth.user(owner) is None:
        await tx.auth.insert_user(owner, None, role.value, now)
    key_id = await tx.auth.insert_api_key(name, key_hash(key), owner, role.value, now)
    return key_id, key
