"""The uploads folder: G-code files on disk behind OctoPrint's /api/files and /downloads.

Uploads stream into a hidden temp file next to their destination, are hashed (SHA-1) and
analysed in the same pass, and appear under their name only through ``os.replace``, so a reader
sees the old file or the whole new one, never a partial upload. Files copied in by hand show up
too; their hash and analysis are computed on first request and remembered in ``.farmctl-meta/``.

All blocking file-system work and the CPU-heavy analysis run in worker threads, entered only
through :meth:`UploadFolder._run`.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import hashlib
import logging
import os
import shutil
import threading
from collections.abc import AsyncIterable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from farmctl.errors import FarmctlError
from farmctl.files.analysis import Analysis, GcodeAnalyzer
from farmctl.files.disk import (
    PartialUpload, abandon, copy_file_atomically, fsync_folder, make_folders, remove_empty, remove_partials,
)
from farmctl.files.meta import Entry, MetaCache, ThumbnailRef
from farmctl.files.paths import has_allowed_extension, resolve_in, safe_relative_path
from farmctl.files.thumbnails import ImageFormat, ThumbnailScanner

log = logging.getLogger(__name__)

T = TypeVar("T")
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
WRITE_BLOCK = 256 * 1024
"""Bytes gathered from the client before one trip to the worker thread (write, hash, analyse)."""
READ_BLOCK = 1024 * 1024
RECENT_SECONDS = 30.0
"""How long :meth:`UploadFolder.recent_info` trusts a record while nothing went through the folder:
a file changed by hand shows that late at most (nobody tells the folder)."""
_MAX_RECENT = 256


class FileType(enum.Enum):
    MACHINECODE = "machinecode"
    FOLDER = "folder"


@dataclass(frozen=True, slots=True)
class FileInfo:
    name: str
    path: str
    """Relative POSIX path inside the uploads folder, e.g. ``parts/bracket.gcode``."""
    size: int
    """Bytes; for a folder, the total of the G-code files beneath it."""
    date: int
    """Modification time, whole seconds since the epoch."""
    hash: str | None
    """SHA-1 of the contents (None for folders, or if the file could not be read)."""
    analysis: Analysis | None
    type: FileType
    thumbnails: tuple[ThumbnailRef, ...] = ()
    """The slicer's preview images, in the file's order (see :meth:`UploadFolder.thumbnail`)."""
    sha256: str | None = field(default=None, compare=False)
    """SHA-256 of the contents, for a file just saved through :meth:`UploadFolder.save_stream`."""


class ContentMismatch(FarmctlError):
    """A file arrived whole but is not the one expected (its SHA-256 differs): it was not stored."""

    def __init__(self, rel: str, expected: str, got: str) -> None:
        super().__init__(f"{rel} does not match its recorded SHA-256 (expected {expected[:12]}…, "
                         f"received {got[:12]}…)", 422)


class UploadFolder:
    """The folder of uploaded G-code under ``root``; uploads larger than ``max_bytes`` are refused."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self._given_root = Path(root)
        self._root: Path | None = None
        self._max_bytes = max_bytes
        self._meta: MetaCache | None = None
        self._folders = threading.Lock()
        """Held to make or remove folders: a failed upload's clean-up must not remove a new folder
        between another upload's making sure it exists and putting its temp file in it."""
        self._cleanups: set[asyncio.Future[None]] = set()
        self._recent: dict[str, tuple[float, FileInfo | None]] = {}
        self._generation = 0
        """Counts the changes made through this folder: a look-up that overlapped one is not kept."""

    async def save_stream(self, relative: str, chunks: AsyncIterable[bytes], *,
                          expect_sha256: str | None = None) -> FileInfo:
        """Store an upload under ``relative`` (folders are created), replacing any older file.

        Raises ``FarmctlError`` 400 for a bad name, 409 when the name is a folder, 413 once the
        stream passes ``max_bytes``, :class:`ContentMismatch` when ``expect_sha256`` is given and the
        contents differ. On any failure or cancellation the temp file and the folders made for this
        upload are removed, and an older file of the same name is left as it was.
        """
        starting = asyncio.ensure_future(self._run(self._start_upload, relative))
        try:
            target, rel, made, upload = await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(self._abandon_started)  # the worker still makes them: undo it then
            raise
        received = 0
        try:
            pending = bytearray()
            async for chunk in chunks:
                received += len(chunk)
                if received > self._max_bytes:
                    raise FarmctlError(f"upload is larger than the limit of {self._max_bytes} bytes", 413)
                pending += chunk
                if len(pending) >= WRITE_BLOCK:
                    block, pending = bytes(pending), bytearray()
                    await self._run(upload.write, block)
            if pending:
                await self._run(upload.write, bytes(pending))
            return await self._change(self._commit, upload, target, rel, expect_sha256)
        except BaseException as exc:
            # Shielded: even if this task is cancelled again, the worker still removes the temp file.
            await asyncio.shield(self._run(self._abandon, upload, made))
            if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
                raise FarmctlError(f"no space left for {rel} ({received} bytes received): the disk of the "
                                   "uploads folder is full; the upload was dropped and any older file kept", 507) from exc
            raise

    def _abandon_started(self, starting: asyncio.Future[tuple[Path, str, list[Path], PartialUpload]]) -> None:
        if starting.cancelled() or starting.exception() is not None:
            return
        _, _, made, upload = starting.result()
        cleanup = asyncio.ensure_future(self._run(self._abandon, upload, made))
        self._cleanups.add(cleanup)
        cleanup.add_done_callback(self._cleanups.discard)

    async def list(self, recursive: bool = False, under: str = "") -> list[FileInfo]:
        """G-code files and folders, sorted by path. Not recursive: only ``under``'s own entries."""
        return await self._run(self._list, recursive, under)

    async def info(self, relative: str) -> FileInfo:
        return await self._run(self._info, relative)

    async def recent_info(self, relative: str, now: float) -> FileInfo | None:
        """:meth:`info` for callers that ask many times a second (every poll of /api/job, every push
        tick), None when there is no such file. An answer is kept for ``RECENT_SECONDS`` or until
        anything is saved, moved, copied or deleted here, so most calls cost no trip to a thread."""
        known = self._recent.get(relative)
        if known is not None and now < known[0]:
            return known[1]
        generation = self._generation
        try:
            info: FileInfo | None = await self.info(relative)
        except FarmctlError:
            info = None
        if generation == self._generation:
            if len(self._recent) >= _MAX_RECENT:
                self._recent.clear()
            self._recent[relative] = (now + RECENT_SECONDS, info)
        return info

    async def local_path(self, relative: str) -> Path:
        """Where a stored G-code file is on disk (for downloads and printing); 404 if missing."""
        return await self._run(self._local_path, relative)

    async def thumbnail(self, relative: str, number: int) -> tuple[Path, ImageFormat]:
        """Where thumbnail ``number`` of a stored file is cached, and its format; 404 if it has none."""
        return await self._run(self._thumbnail, relative, number)

    async def missing(self, relatives: list[str]) -> frozenset[str]:
        """Those of ``relatives`` that name no G-code file here (or no place inside the folder at all)."""
        return await self._run(self._missing, relatives)

    async def delete(self, relative: str) -> None:
        """Remove a file, or a folder with everything in it; 404 if there is none."""
        await self._change(self._delete, relative)

    async def move(self, src: str, dst: str) -> FileInfo:
        """Rename a file or folder to the full path ``dst``; 409 if ``dst`` exists."""
        return await self._change(self._move_or_copy, src, dst, False)

    async def copy(self, src: str, dst: str) -> FileInfo:
        return await self._change(self._move_or_copy, src, dst, True)

    async def create_folder(self, relative: str) -> FileInfo:
        return await self._change(self._create_folder, relative)

    async def remove_abandoned(self) -> list[str]:
        """At start: remove what uploads cut off by a crash left behind; their names, relative."""
        removed = await self._run(lambda: remove_partials(self._real_root()))
        return [path.relative_to(self._real_root()).as_posix() for path in removed]

    async def usage(self) -> tuple[int, int]:
        """(free, total) bytes of the file system holding the folder."""
        usage = await self._run(shutil.disk_usage, self._real_root())
        return usage.free, usage.total

    async def _run(self, func: Callable[..., T], *args: object) -> T:
        """The one door from the event loop to blocking file work."""
        return await asyncio.to_thread(func, *args)

    async def _change(self, func: Callable[..., T], *args: object) -> T:
        """:meth:`_run` for work that changes what the folder holds: the recent records go, whether
        it succeeds or not (a failure may have changed something too)."""
        try:
            return await self._run(func, *args)
        finally:
            self._generation += 1
            self._recent.clear()

    # Everything below runs in a worker thread.

    def _real_root(self) -> Path:
        if self._root is None:
            self._given_root.mkdir(parents=True, exist_ok=True)
            self._root = self._given_root.resolve()
            self._meta = MetaCache(self._root)
        return self._root

    @property
    def _cache(self) -> MetaCache:
        self._real_root()
        assert self._meta is not None
        return self._meta

    def _resolve(self, relative: str, *, require_extension: bool) -> tuple[Path, str]:
        path = resolve_in(self._real_root(), relative, require_extension=require_extension)
        return path, path.relative_to(self._real_root()).as_posix()

    def _start_upload(self, relative: str) -> tuple[Path, str, list[Path], PartialUpload]:
        """The target, its relative name, the folders made for it (removed again if the upload fails)
        and its temp file, already in its folder."""
        target, rel = self._resolve(relative, require_extension=True)
        if target.is_dir():
            raise FarmctlError(f"{rel} is a folder", 409)
        with self._folders:
            made = make_folders(target.parent)
            try:
                return target, rel, made, PartialUpload(target)
            except BaseException:
                remove_empty(made)
                raise

    def _abandon(self, upload: PartialUpload, made: list[Path]) -> None:
        with self._folders:
            abandon(upload, made)

    def _commit(self, upload: PartialUpload, target: Path, rel: str, expect_sha256: str | None) -> FileInfo:
        upload.finish()
        sha256 = upload.sha256.hexdigest()
        if expect_sha256 is not None and sha256 != expect_sha256:
            raise ContentMismatch(rel, expect_sha256, sha256)
        analysis = upload.analyzer.result()
        try:
            os.replace(upload.path, target)
        except IsADirectoryError as exc:
            raise FarmctlError(f"{rel} is a folder", 409) from exc
        except FileNotFoundError as exc:
            raise FarmctlError(f"the folder of {rel} was deleted during the upload", 409) from exc
        fsync_folder(target.parent)
        st = target.stat()
        entry = self._remember(Entry(rel, st.st_size, st.st_mtime_ns, upload.sha1.hexdigest(), analysis),
                               upload.thumbnails)
        return FileInfo(target.name, rel, st.st_size, int(st.st_mtime), entry.hash, analysis, FileType.MACHINECODE,
                        entry.thumbnails, sha256)

    def _list(self, recursive: bool, under: str) -> list[FileInfo]:
        if under.strip("/"):
            base, prefix = self._resolve(under, require_extension=False)
            if not base.is_dir() or base.is_symlink():
                raise FarmctlError(f"no such folder: {prefix}", 404)
            prefix += "/"
        else:
            base, prefix = self._real_root(), ""
        found: list[FileInfo] = []
        self._walk(base, prefix, found, recursive)
        return sorted(found, key=lambda info: info.path)

    def _walk(self, folder: Path, prefix: str, found: list[FileInfo] | None, recursive: bool) -> int:
        """Add ``folder``'s visible entries to ``found`` (None: only count); return their total size."""
        total = 0
        for entry, rel in self._visible_entries(folder, prefix):
            if entry.is_dir(follow_symlinks=False):
                inner = found if recursive else None
                size = self._walk(Path(entry.path), rel + "/", inner, recursive)
                total += size
                if found is not None:
                    date = int(entry.stat(follow_symlinks=False).st_mtime)
                    found.append(FileInfo(entry.name, rel, size, date, None, None, FileType.FOLDER))
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            total += st.st_size
            if found is not None:
                info = self._describe(Path(entry.path), rel, st)
                if info is not None:
                    found.append(info)
        return total

    def _visible_entries(self, folder: Path, prefix: str) -> Iterator[tuple[os.DirEntry[str], str]]:
        """Entries a client may see: safe names, G-code files, no hidden or temp files, no symlink
        leading outside the root and no symlinked folders (they could loop)."""
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except FileNotFoundError:
            return
        for entry in entries:
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            try:
                if str(safe_relative_path(rel, require_extension=not is_dir)) != rel:
                    continue  # e.g. not NFC: the name a client would send back would not match
                if entry.is_symlink():
                    if entry.is_dir():
                        continue
                    resolve_in(self._real_root(), rel)
            except FarmctlError:
                continue
            if is_dir or entry.is_file():
                yield entry, rel

    def _describe(self, path: Path, rel: str, st: os.stat_result) -> FileInfo | None:
        entry = self._cache.get(rel, st.st_size, st.st_mtime_ns)
        if entry is None:
            try:
                entry = self._analyse(path, rel, st)
            except FileNotFoundError:
                return None
            except OSError as exc:
                log.warning("cannot read %s: %s", rel, exc)
                return FileInfo(path.name, rel, st.st_size, int(st.st_mtime), None, None, FileType.MACHINECODE)
        return FileInfo(path.name, rel, st.st_size, int(st.st_mtime), entry.hash, entry.analysis, FileType.MACHINECODE,
                        entry.thumbnails)

    def _analyse(self, path: Path, rel: str, st: os.stat_result) -> Entry:
        """Hash, analyse and find the thumbnails of a file that arrived without an upload (copied in by hand)."""
        sha1, analyzer, thumbnails = hashlib.sha1(), GcodeAnalyzer(), ThumbnailScanner()
        with open(path, "rb") as source:
            while block := source.read(READ_BLOCK):
                sha1.update(block)
                analyzer.feed(block)
                thumbnails.feed(block)
        entry = Entry(rel, st.st_size, st.st_mtime_ns, sha1.hexdigest(), analyzer.result())
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
            entry = self._remember(entry, thumbnails)  # else it changed while we read it: analyse again next time
        return entry

    def _remember(self, entry: Entry, thumbnails: ThumbnailScanner) -> Entry:
        """Keep the entry and its images; if that fails the file still lists, without thumbnails."""
        try:
            return self._cache.put(entry, thumbnails.result())
        except OSError as exc:
            log.warning("cannot save metadata for %s: %s", entry.path, exc)
            return entry

    def _info(self, relative: str) -> FileInfo:
        path, rel = self._existing(relative)
        if path.is_dir() and not path.is_symlink():
            size = self._walk(path, rel + "/", None, False)
            return FileInfo(path.name, rel, size, int(path.stat().st_mtime), None, None, FileType.FOLDER)
        info = self._describe(path, rel, path.stat())
        if info is None:
            raise FarmctlError(f"no such file: {rel}", 404)
        return info

    def _local_path(self, relative: str) -> Path:
        path, rel = self._resolve(relative, require_extension=True)
        if not path.is_file():
            raise FarmctlError(f"no such file: {rel}", 404)
        return path

    def _thumbnail(self, relative: str, number: int) -> tuple[Path, ImageFormat]:
        info = self._info(relative)
        if info.type != FileType.MACHINECODE or not 0 <= number < len(info.thumbnails):
            raise FarmctlError(f"{info.path} has no thumbnail {number}", 404)
        ref = info.thumbnails[number]
        return self._cache.image_path(info.path, number, ref), ref.format

    def _missing(self, relatives: list[str]) -> frozenset[str]:
        root = self._real_root()
        missing = set()
        for relative in relatives:
            try:
                if resolve_in(root, relative, require_extension=False).is_file():
                    continue
            except FarmctlError:
                pass  # a name that leads outside the folder is as good as missing: it will not print
            missing.add(relative)
        return frozenset(missing)

    def _existing(self, relative: str) -> tuple[Path, str]:
        """A folder, or a G-code file, that exists; else 404."""
        path, rel = self._resolve(relative, require_extension=False)
        if path.is_dir() and not path.is_symlink():
            return path, rel
        if path.is_file() and has_allowed_extension(rel):
            return path, rel
        raise FarmctlError(f"no such file or folder: {rel}", 404)

    def _delete(self, relative: str) -> None:
        with self._folders:
            self._delete_existing(*self._existing(relative))

    def _delete_existing(self, path: Path, rel: str) -> None:
        try:
            if path.is_dir() and not path.is_symlink():
                for inner in self._file_paths(path, rel):
                    self._cache.forget(inner)
                shutil.rmtree(path)
            else:
                path.unlink()
                self._cache.forget(rel)
        except FileNotFoundError as exc:
            raise FarmctlError(f"no such file or folder: {rel}", 404) from exc

    def _move_or_copy(self, src: str, dst: str, keep: bool) -> FileInfo:
        with self._folders:
            return self._move_or_copy_existing(src, dst, keep)

    def _move_or_copy_existing(self, src: str, dst: str, keep: bool) -> FileInfo:
        source, src_rel = self._existing(src)
        is_folder = source.is_dir() and not source.is_symlink()
        target, dst_rel = self._resolve(dst, require_extension=not is_folder)
        if os.path.lexists(target):
            raise FarmctlError(f"{dst_rel} already exists", 409)
        if is_folder and target.is_relative_to(source):
            raise FarmctlError(f"cannot put folder {src_rel} inside itself", 400)
        make_folders(target.parent)
        if is_folder:
            moved = [(old, dst_rel + old[len(src_rel):]) for old in self._file_paths(source, src_rel)]
        else:
            moved = [(src_rel, dst_rel)]
        try:
            if not keep:
                os.rename(source, target)
            elif is_folder:
                shutil.copytree(source, target, symlinks=True, ignore=_hidden)
            else:
                copy_file_atomically(source, target)
        except FileNotFoundError as exc:
            raise FarmctlError(f"no such file or folder: {src_rel}", 404) from exc
        for old, new in moved:  # mtimes survive rename and copy2, so the analysis still holds
            try:
                st = (self._real_root() / new).stat()
                self._cache.carry(old, new, st.st_size, st.st_mtime_ns, keep_old=keep)
            except OSError as exc:
                log.warning("cannot carry metadata from %s to %s: %s", old, new, exc)
        return self._info(dst_rel)

    def _file_paths(self, folder: Path, rel: str) -> list[str]:
        """Root-relative paths of the G-code files under ``folder`` (whose own path is ``rel``)."""
        paths: list[str] = []
        for entry, inner in self._visible_entries(folder, rel + "/"):
            if entry.is_dir(follow_symlinks=False):
                paths.extend(self._file_paths(Path(entry.path), inner))
            else:
                paths.append(inner)
        return paths

    def _create_folder(self, relative: str) -> FileInfo:
        path, rel = self._resolve(relative, require_extension=False)
        with self._folders:
            if os.path.lexists(path):
                raise FarmctlError(f"{rel} already exists", 409)
            make_folders(path)
            return self._info(rel)


def _hidden(_folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name.startswith(".")]
