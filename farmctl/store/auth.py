"""Rows of users and API keys (see ``tx.Tx``).

Only hashes are stored: a password as an scrypt string, a key as the SHA-256 hex of its text.
Roles are the lower-case strings 'admin', 'operator' and 'viewer' (``farmctl.auth.Role`` values);
the schema rejects anything else. No rules live here: ``farmctl.auth`` decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.store.sql import Row, Rows


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    password_hash: str | None  # None: the user only holds API keys and cannot log in
    role: str
    created: float


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as listed: never its text, and its hash stays inside the store."""

    id: int
    name: str
    user: str
    role: str
    created: float
    last_used: float | None


def _user(row: Row) -> UserRecord:
    return UserRecord(row["id"], row["name"], row["password_hash"], row["role"], row["created"])


def _key(row: Row) -> ApiKeyRecord:
    return ApiKeyRecord(row["id"], row["name"], row["user_name"], row["role"], row["created"], row["last_used"])


class AuthRows(Rows):
    # Users

    async def user(self, name: str) -> UserRecord | None:
        row = await self._sql.one("SELECT * FROM users WHERE name = ?", (name,))
        return None if row is None else _user(row)

    async def users(self) -> list[UserRecord]:
        return [_user(r) for r in await self._sql.all("SELECT * FROM users ORDER BY name")]

    async def insert_user(self, name: str, password_hash: str | None, role: str, created: float) -> int:
        return await self._sql.insert(
            "INSERT INTO users (name, password_hash, role, created) VALUES (?, ?, ?, ?) RETURNING id",
            (name, password_hash, role, created),
        )

    async def update_user(self, name: str, password_hash: str | None, role: str) -> None:
        await self._sql.write(
            "UPDATE users SET password_hash = ?, role = ? WHERE name = ?", (password_hash, role, name)
        )

    # API keys

    async def insert_api_key(self, name: str, key_hash: str, user: str, role: str, created: float) -> int:
        return await self._sql.insert(
            "INSERT INTO api_keys (name, key_hash, user_name, role, created) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (name, key_hash, user, role, created),
        )

    async def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._sql.one("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        return None if row is None else _key(row)

    async def api_keys(self) -> list[ApiKeyRecord]:
        return [_key(r) for r in await self._sql.all("SELECT * FROM api_keys ORDER BY id")]

    async def touch_api_key(self, key_id: int, used: float, *, unless_since: float) -> None:
        """Record a use, unless the last recorded one is newer than ``unless_since``."""
        await self._sql.write(
            "UPDATE api_keys SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used <= ?)",
            (used, key_id, unless_since),
        )

    async def delete_api_key(self, key_id: int) -> bool:
        return await self._sql.write("DELETE FROM api_keys WHERE id = ?", (key_id,)) > 0
