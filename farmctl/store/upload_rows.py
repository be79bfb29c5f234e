"""Rows of ``upload_hashes`` (see ``tx.Tx``): each upload's SHA-256 and the nodes that hold it, so
the other nodes sharing the store can fetch a set's file and check it before they print it.

One version per path: every row of a path carries the same SHA-256. A node storing new contents
under a path (:meth:`UploadHashRows.record`) makes the other nodes' copies stale, so their rows
go; a node that fetched and verified the current version adds itself (:meth:`add_holder`), so the
file can still be had from it when the node it came from is away.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.store.sql import Rows

_COLUMNS = "path, node, sha256, size, updated"


@dataclass(frozen=True, slots=True)
class UploadHash:
    path: str
    sha256: str
    size: int
    node: str
    """A node whose uploads folder holds this version."""
    updated: float


class UploadHashRows(Rows):
    async def record(self, item: UploadHash) -> None:
        """``item.node`` now holds these contents under ``item.path``: other versions' holders are stale."""
        await self._sql.write("DELETE FROM upload_hashes WHERE path = ? AND (sha256 <> ? OR node = ?)",
                              (item.path, item.sha256, item.node))
        await self._sql.write(f"INSERT INTO upload_hashes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                              (item.path, item.node, item.sha256, item.size, item.updated))

    async def add_holder(self, item: UploadHash) -> bool:
        """``item.node`` verified a copy of ``item.path``: a holder now, if that is still the path's
        version (a newer upload meanwhile makes the copy stale); whether it was added."""
        return await self._sql.write(
            f"""INSERT INTO upload_hashes ({_COLUMNS}) SELECT ?, ?, ?, ?, ?
                WHERE EXISTS (SELECT 1 FROM upload_hashes WHERE path = ? AND sha256 = ?)
                ON CONFLICT (path, node) DO UPDATE SET updated = excluded.updated""",
            (item.path, item.node, item.sha256, item.size, item.updated, item.path, item.sha256)) > 0

    async def holders(self, path: str) -> list[UploadHash]:
        """Who holds ``path``'s current version, the longest-standing first (the uploader, as a rule)."""
        rows = await self._sql.all(f"SELECT {_COLUMNS} FROM upload_hashes WHERE path = ? ORDER BY updated, node",
                                   (path,))
        return [UploadHash(r["path"], r["sha256"], int(r["size"]), r["node"], float(r["updated"])) for r in rows]

    async def known(self, paths: list[str]) -> set[str]:
        """Those of ``paths`` some node holds."""
        if not paths:
            return set()
        marks = ", ".join("?" for _ in paths)
        rows = await self._sql.all(f"SELECT DISTINCT path FROM upload_hashes WHERE path IN ({marks})", paths)
        return {r["path"] for r in rows}

    async def forget(self, path: str, node: str) -> int:
        """``node`` no longer holds ``path``, nor anything under it if it is a folder; rows forgotten.
        Other nodes' copies stay: they still hold them."""
        return await self._sql.write(
            "DELETE FROM upload_hashes WHERE node = ? AND (path = ? OR substr(path, 1, length(?) + 1) = ? || '/')",
            (node, path, path, path))
