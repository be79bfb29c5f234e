"""SHA-256 of files on disk, remembered while a file's size and modification time stay the same,
and blocks of a file read one at a time: the blocking halves of shared uploads.

Everything here blocks: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import BinaryIO

from farmctl.files.disk import copy_file_atomically, make_folders
from farmctl.files.paths import resolve_in

BLOCK = 1024 * 1024
_MAX_REMEMBERED = 4096


class Digests:
    """``sha256(path)``: hashed once per version of a file (a print checks its file every time)."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def sha256(self, path: Path) -> tuple[str, int] | None:
        """The file's SHA-256 and size; None when there is no such file."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if not path.is_file():
            return None
        with self._lock:
            known = self._known.get(path)
        if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            return known[2], st.st_size
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            while block := source.read(BLOCK):
                digest.update(block)
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):  # not changed while read
            with self._lock:
                if len(self._known) >= _MAX_REMEMBERED:
                    self._known.clear()
                self._known[path] = (st.st_size, st.st_mtime_ns, digest.hexdigest())
        return digest.hexdigest(), st.st_size


def open_inside(root: Path, relative: str) -> BinaryIO:
    """Open ``relative`` under ``root`` for reading, refusing a name or symlink that leads outside."""
    return open(resolve_in(root, relative), "rb")  # noqa: SIM115 - the caller closes it


def publish(source: Path, root: Path, relative: str) -> None:
    """Copy ``source`` to ``relative`` under ``root`` through a temp file and a rename."""
    target = resolve_in(root, relative)
    make_folders(target.parent)
    copy_file_atomically(source, target)
