"""Uploads shared by the nodes of one store: each upload's SHA-256 is recorded with the nodes that
hold it, and a node that claims a set whose file it lacks fetches it before printing.

At upload (and copy, move, a .gjob export) a node records the file's SHA-256, size and its own
name in ``upload_hashes``; with ``shared_uploads`` in farm.toml it also puts a copy in that folder.
Before a set prints, :meth:`SharedUploads.ensure` makes sure the uploads folder holds the recorded
contents: a file that is here with the recorded hash prints as it is; otherwise it is fetched from
the shared folder, else from a node that holds it (a signed download, :mod:`farm.peer_client`),
through :meth:`UploadFolder.save_stream` with the hash expected, so the file appears under its
name only whole and verified (temp file, hash, rename) and never outside the uploads folder. The
node then holds it too, so the next node can fetch it here while the uploader is away. A file
that cannot be had raises :class:`FileUnavailable` naming every source and why it failed; the
driver gives the copy back (still owed) and shows that reason.

A file here that differs from the recorded version is never printed: it is stale (a newer
upload elsewhere) or damaged, and is fetched again. Only when this node holds the one copy the
farm knows is a hand-changed file taken as the new version (one Pi, an operator editing a file).
A set whose file no node recorded prints from this node's folder as before (copied in by hand).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote

from farmctl.errors import FarmctlError
from farmctl.farm.peer_client import PeerClient
from farmctl.files import FileInfo, FileType, UploadFolder, resolve_in, safe_relative_path
from farmctl.files.digest import BLOCK, Digests, open_inside, publish
from farmctl.queue.nodes import Nodes
from farmctl.store import Store
from farmctl.store.upload_rows import UploadHash

log = logging.getLogger(__name__)

DOWNLOAD_PATH = "/downloads/files/local/"
"""Where every node serves its uploads (OctoPrint's download path)."""


class FileUnavailable(FarmctlError):
    """A set's file is not here and could not be fetched and verified; the copy stays owed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 503)


class SharedUploads:
    def __init__(self, store: Store, uploads: UploadFolder, uploads_dir: Path, node: str, peers: PeerClient,
                 nodes: Nodes, *, shared: Path | None, max_bytes: int, clock: Callable[[], float],
                 on_fetched: Callable[[str], None]) -> None:
        self._store = store
        self._uploads = uploads
        self._uploads_dir = uploads_dir
        self._node = node
        self._peers = peers
        self._nodes = nodes
        self._shared = shared
        self._max_bytes = max_bytes
        self._clock = clock
        self._on_fetched = on_fetched  # a file arrived: clients see it added
        self._digests = Digests()
        self._fetching: dict[str, asyncio.Lock] = {}

    # -- what this node holds ----------------------------------------------------------------

    async def stored(self, info: FileInfo) -> None:
        """``info`` was saved, copied or moved into this node's uploads: record it (and share it); a
        folder, every file in it."""
        if info.type is FileType.FOLDER:
            for inner in await self._uploads.list(recursive=True, under=info.path):
                if inner.type is FileType.MACHINECODE:
                    await self.stored(inner)
            return
        local = await asyncio.to_thread(resolve_in, self._uploads_dir, info.path)
        digest = (info.sha256, info.size) if info.sha256 else await asyncio.to_thread(self._digests.sha256, local)
        if digest is None:
            return  # gone again already: nothing to record
        await self._record(info.path, *digest)
        if self._shared is not None:
            try:
                await asyncio.to_thread(publish, local, self._shared, info.path)
            except (OSError, FarmctlError) as exc:
                log.warning("%s not copied to the shared folder %s: %s (the other nodes fetch it from this one)",
                            info.path, self._shared, getattr(exc, "message", exc))

    async def removed(self, path: str) -> None:
        """This node no longer holds ``path`` (a file or a folder): forget its records here."""
        async with self._store.transaction() as tx:
            await tx.upload_hashes.forget(path, self._node)

    async def _record(self, path: str, sha256: str, size: int) -> None:
        async with self._store.transaction() as tx:
            await tx.upload_hashes.record(UploadHash(path, sha256, size, self._node, self._clock()))

    async def _add_holder(self, version: UploadHash) -> None:
        """This node holds a verified copy of ``version``: another node may fetch it from here too."""
        held = UploadHash(version.path, version.sha256, version.size, self._node, self._clock())
        async with self._store.transaction() as tx:
            await tx.upload_hashes.add_holder(held)

    async def recorded(self, paths: list[str]) -> set[str]:
        """Those of ``paths`` some node recorded (a node lacking one can fetch it)."""
        async with self._store.transaction(write=False) as tx:
            return await tx.upload_hashes.known(paths)

    # -- before a print ----------------------------------------------------------------------

    async def ensure(self, relative: str, on_fetch: Callable[[], None] | None = None) -> None:
        """Make this node's uploads hold the recorded contents of ``relative``, or raise FileUnavailable;
        ``on_fetch()`` is called when it must be fetched (the printer's status says so meanwhile)."""
        try:
            path = safe_relative_path(relative).as_posix()
        except FarmctlError:
            return  # the driver refuses the name itself
        async with self._fetching.setdefault(path, asyncio.Lock()):  # two printers here fetch a file once
            await self._ensure(path, on_fetch)

    async def _ensure(self, path: str, on_fetch: Callable[[], None] | None) -> None:
        async with self._store.transaction(write=False) as tx:
            holders = await tx.upload_hashes.holders(path)
        if not holders:
            return
        version = holders[0]
        local = await asyncio.to_thread(resolve_in, self._uploads_dir, path)
        have = await asyncio.to_thread(self._digests.sha256, local)
        others = [h for h in holders if h.node != self._node]
        if have is not None and have[0] == version.sha256:
            if len(others) == len(holders):  # a matching copy here that the store did not know of
                await self._add_holder(version)
            return
        if len(others) < len(holders):  # this node was a holder, but its file is gone or differs
            if have is not None and not others:  # the only copy, changed by hand: it is the truth now
                log.warning("%s changed here since it was recorded: recording its new contents", path)
                await self._record(path, *have)
                return
            if have is not None:
                log.warning("%s here differs from its recorded SHA-256 (changed by hand or damaged): "
                            "fetching the recorded version", path)
            async with self._store.transaction() as tx:
                await tx.upload_hashes.forget(path, self._node)
            if not others and self._shared is None:
                return  # missing here, where the only copy was: the driver says so
        if on_fetch is not None:
            on_fetch()
        failures = []
        if self._shared is not None:
            try:
                await self._fetch(path, version, self._read_shared(path), f"the shared folder {self._shared}")
                return
            except FarmctlError as exc:
                failures.append(exc.message)
        reachable = {n.name: n.url for n in await self._nodes.live() if n.url}
        for holder in others:
            url = reachable.get(holder.node)
            if url is None:
                failures.append(f"node {holder.node}, which holds it, is not running")
                continue
            try:
                chunks = self._peers.stream(url, DOWNLOAD_PATH + quote(path), self._max_bytes)
                await self._fetch(path, version, chunks, f"node {holder.node}")
                return
            except FarmctlError as exc:
                failures.append(exc.message)
        stale = " (the copy here is outdated or damaged)" if have is not None else ""
        raise FileUnavailable(f"{path} is not here{stale} and could not be fetched: {'; '.join(failures)}; "
                              "the copy is still owed")

    async def _fetch(self, path: str, record: UploadHash, chunks: AsyncIterator[bytes], source: str) -> None:
        log.info("fetching %s (%d bytes) from %s", path, record.size, source)
        try:
            await self._uploads.save_stream(path, chunks, expect_sha256=record.sha256)
        except FarmctlError as exc:
            raise FarmctlError(f"from {source}: {exc.message}", exc.status) from None
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        log.info("%s fetched from %s and verified (SHA-256 %s…)", path, source, record.sha256[:12])
        await self._add_holder(record)
        self._on_fetched(path)

    async def _read_shared(self, path: str) -> AsyncIterator[bytes]:
        assert self._shared is not None
        try:
            handle = await asyncio.to_thread(open_inside, self._shared, path)
        except FileNotFoundError:
            raise FarmctlError(f"{path} is not in it", 404) from None
        except OSError as exc:
            raise FarmctlError(f"cannot read {path}: {exc.strerror}", 503) from None
        try:
            while block := await asyncio.to_thread(handle.read, BLOCK):
                yield block
        except OSError as exc:
            raise FarmctlError(f"cannot read {path}: {exc.strerror}", 503) from None
        finally:
            await asyncio.to_thread(handle.close)

