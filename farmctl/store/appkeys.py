"""Rows of OctoPrint app-key requests (see ``tx.Tx``), shared by the server and ``farmctl keys``.

Only the SHA-256 of an app's poll token is kept, and never a key: approval stores the role and
owner, and the server mints the key when a poll collects it. States are the lower-case values of
``farmctl.auth.AppKeyState``; the schema rejects anything else. No rules live here:
``farmctl.auth.appkeys`` decides, and every state change is a compare-and-set on the old state.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.store.sql import Row, Rows


@dataclass(frozen=True, slots=True)
class AppKeyRequestRecord:
    id: int
    app: str
    user: str | None  # the user the app asked for, if any
    state: str
    role: str | None  # set on approval: what the key will be allowed to do
    owner: str | None  # set on approval: the user the key will belong to
    created: float
    last_poll: float


def _request(row: Row) -> AppKeyRequestRecord:
    return AppKeyRequestRecord(row["id"], row["app"], row["user_name"], row["state"], row["role"], row["owner"],
                               row["created"], row["last_poll"])


class AppKeyRows(Rows):
    async def insert(self, token_hash: str, app: str, user: str | None, now: float) -> int:
        return await self._sql.insert(
            """INSERT INTO app_key_requests (token_hash, app, user_name, state, created, last_poll)
               VALUES (?, ?, ?, 'pending', ?, ?) RETURNING id""",
            (token_hash, app, user, now, now),
        )

    async def get(self, request_id: int) -> AppKeyRequestRecord | None:
        row = await self._sql.one("SELECT * FROM app_key_requests WHERE id = ?", (request_id,))
        return None if row is None else _request(row)

    async def by_token(self, token_hash: str) -> AppKeyRequestRecord | None:
        row = await self._sql.one("SELECT * FROM app_key_requests WHERE token_hash = ?", (token_hash,))
        return None if row is None else _request(row)

    async def all(self) -> list[AppKeyRequestRecord]:
        return [_request(r) for r in await self._sql.all("SELECT * FROM app_key_requests ORDER BY created, id")]

    async def move(self, request_id: int, old: str, new: str, *, role: str | None = None,
                                   owner: str | None = None) -> bool:
        """Change the state only if it still is ``old`` (False: someone else moved it first)."""
        changed = await self._sql.write(
            """UPDATE app_key_requests SET state = ?, role = coalesce(?, role), owner = coalesce(?, owner)
               WHERE id = ? AND state = ?""",
            (new, role, owner, request_id, old),
        )
        return changed > 0

    async def touch(self, request_id: int, now: float) -> None:
        await self._sql.write("UPDATE app_key_requests SET last_poll = ? WHERE id = ?", (now, request_id))

    async def delete(self, request_ids: list[int]) -> None:
        for request_id in request_ids:
            await self._sql.write("DELETE FROM app_key_requests WHERE id = ?", (request_id,))
