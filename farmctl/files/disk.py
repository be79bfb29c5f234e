"""The blocking steps that keep the uploads folder consistent on disk: an upload grows in a hidden
temp file beside its destination and a copy is renamed into place, so a reader never sees half a
file; folders made for an upload that fails are removed again, so it leaves nothing behind.

Everything here runs in a worker thread (``UploadFolder._run``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from farmctl.errors import FarmctlError
from farmctl.files.analysis import GcodeAnalyzer
from farmctl.files.thumbnails import ThumbnailScanner


PARTIAL_PREFIXES = (".upload-", ".copy-")
PARTIAL_SUFFIX = ".part"


class PartialUpload:
    """A hidden temp file beside the destination, with the hash, analysis and thumbnails fed as it grows."""

    def __init__(self, target: Path) -> None:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=PARTIAL_PREFIXES[0], suffix=PARTIAL_SUFFIX)
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.sha1 = hashlib.sha1()
        self.sha256 = hashlib.sha256()
        """What nodes sharing the store check a copy by (SHA-1 is OctoPrint's ``hash``)."""
        self.analyzer = GcodeAnalyzer()
        self.thumbnails = ThumbnailScanner()

    def write(self, block: bytes) -> None:
        self.file.write(block)
        self.sha1.update(block)
        self.sha256.update(block)
        self.analyzer.feed(block)
        self.thumbnails.feed(block)

    def finish(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.chmod(self.path, 0o644)  # mkstemp makes it 0600

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones this call created, outermost first."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    made: list[Path] = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
                made.append(path)
            except FileExistsError:  # made meanwhile by someone else: theirs, unless it is a file
                if not path.is_dir():
                    raise
        if not folder.is_dir():
            raise NotADirectoryError(folder)
    except (FileExistsError, NotADirectoryError) as exc:
        remove_empty(made)
        raise FarmctlError(f"a file is in the way of folder {folder.name!r}", 409) from exc
    return made


def remove_empty(folders: list[Path]) -> None:
    """Remove folders made for an upload that failed, innermost first, if nothing else went in meanwhile."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: another upload uses it, and so its parents too


def abandon(upload: PartialUpload, made: list[Path]) -> None:
    upload.discard()
    remove_empty(made)


def copy_file_atomically(source: Path, target: Path) -> None:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=PARTIAL_PREFIXES[1], suffix=PARTIAL_SUFFIX)
    os.close(fd)
    try:
        shutil.copy2(source, name)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (power loss on an SD card)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_partials(root: Path) -> list[Path]:
    """Remove the temp files of uploads and copies a killed process left (at start, before any upload
    can run): hidden, they would fill the disk over weeks of power cuts. Returns what was removed."""
    removed = []
    for path in root.rglob(".*" + PARTIAL_SUFFIX):
        if path.name.startswith(PARTIAL_PREFIXES) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
