"""Rows of ``upload_hashes`` (see ``tx.Tx``): each upload's SHA-256 and the node that holds it, so
the other nodes sharing the store can fetch a set's file and check it before they print it."""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.store.sql import Rows


@dataclass(frozen=True, slots=True)
class UploadHash:
    path: str
    sha256: str
    size: int
    node: str
    """The node whose uploads folder holds it (where it was uploaded, copied or moved to)."""
    updated: float


class UploadHashRows(Rows):
    async def record(self, item: UploadHash) -> None:
        """``item.path`` now holds these contents, at ``item.node`` (replacing an older record)."""
        await self._sql.write(
            """INSERT INTO upload_hashes (path, sha256, size, node, updated) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size,
               node = excluded.node, updated = excluded.updated""",
            (item.path, item.sha256, item.size, item.node, item.updated))

    async def get(self, path: str) -> UploadHash | None:
        row = await self._sql.one("SELECT path, sha256, size, node, updated FROM upload_hashes WHERE path = ?",
                                  (path,))
        return None if row is None else UploadHash(row["path"], row["sha256"], int(row["size"]), row["node"],
                                                   float(row["updated"]))

    async def known(self, paths: list[str]) -> set[str]:
        """Those of ``paths`` some node recorded."""
        if not paths:
            return set()
        marks = ", ".join("?" for _ in paths)
        rows = await self._sql.all(f"SELECT path FROM upload_hashes WHERE path IN ({marks})", paths)
        return {r["path"] for r in rows}

    async def forget(self, path: str, node: str) -> int:
        """``node`` no longer holds ``path``, nor anything under it if it is a folder; rows forgotten.
        Another node's record of the same path stays: it holds its own upload."""
        return await self._sql.write(
            "DELETE FROM upload_hashes WHERE node = ? AND (path = ? OR substr(path, 1, length(?) + 1) = ? || '/')",
            (node, path, path, path))
