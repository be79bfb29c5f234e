"""Remembered hash and analysis per file, so neither is computed twice, even across restarts.

One small JSON sidecar per file under ``<root>/.farmctl-meta/``, named by the SHA-1 of the file's
relative path (so long or odd names never hit NAME_MAX), and beside it the file's slicer
thumbnails as ``<sidecar>-<n>.png|jpg``, extracted once with the analysis so a listing never
reads G-code again. An entry counts only while the file's path, size and mtime (ns) still match;
anything else means the file changed and is analysed again. Images first, then the sidecar, each
written to a temp file and ``os.replace``d, so a crash leaves the old entry or the new one,
never half of one. All methods block: call them from the store's worker thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from farmctl.files.analysis import Analysis
from farmctl.files.thumbnails import ImageFormat, Thumbnail

log = logging.getLogger(__name__)

META_DIR = ".farmctl-meta"
_FORMAT = 2
"""2: thumbnails. An older sidecar is not read, so its file is analysed again once."""


@dataclass(frozen=True, slots=True)
class ThumbnailRef:
    """A stored thumbnail: its size and format; the image is a file beside the sidecar."""

    width: int
    height: int
    format: ImageFormat

    def to_dict(self) -> dict[str, object]:
        return {"width": self.width, "height": self.height, "format": self.format.value}


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    size: int
    mtime_ns: int
    hash: str
    analysis: Analysis
    thumbnails: tuple[ThumbnailRef, ...] = ()


class MetaCache:
    """Sidecar entries in ``<root>/.farmctl-meta``, with an in-memory copy in front."""

    def __init__(self, root: Path) -> None:
        self._dir = root / META_DIR
        self._memory: dict[str, Entry] = {}

    def get(self, path: str, size: int, mtime_ns: int) -> Entry | None:
        entry = self._memory.get(path)
        if entry is None:
            entry = self._read(path)
            if entry is not None:
                self._memory[path] = entry
        if entry is None or entry.size != size or entry.mtime_ns != mtime_ns:
            return None
        return entry

    def put(self, entry: Entry, images: tuple[Thumbnail, ...] | None = None) -> Entry:
        """Store ``entry``; with ``images``, those become its thumbnails (else it keeps its own refs,
        whose files must already be in place). Returns the entry as stored."""
        self._dir.mkdir(exist_ok=True)
        if images is not None:
            self._remove_images(entry.path)
            refs = []
            for number, image in enumerate(images):
                ref = ThumbnailRef(image.width, image.height, image.format)
                self._write(self.image_path(entry.path, number, ref), image.data)
                refs.append(ref)
            entry = Entry(entry.path, entry.size, entry.mtime_ns, entry.hash, entry.analysis, tuple(refs))
        record = {
            "format": _FORMAT, "path": entry.path, "size": entry.size, "mtime_ns": entry.mtime_ns,
            "hash": entry.hash, "analysis": entry.analysis.to_dict(),
            "thumbnails": [ref.to_dict() for ref in entry.thumbnails],
        }
        self._write(self._sidecar(entry.path), json.dumps(record).encode("utf-8"))
        self._memory[entry.path] = entry
        return entry

    def forget(self, path: str) -> None:
        self._memory.pop(path, None)
        _unlink(self._sidecar(path))
        self._remove_images(path)

    def carry(self, old: str, new: str, size: int, mtime_ns: int, *, keep_old: bool) -> None:
        """After a move or copy that kept the file's mtime, file the entry (and its images) under the new path."""
        entry = self.get(old, size, mtime_ns)
        if entry is not None:
            moved = Entry(new, size, mtime_ns, entry.hash, entry.analysis, entry.thumbnails)
            self._remove_images(new)
            for number, ref in enumerate(entry.thumbnails):
                source, target = self.image_path(old, number, ref), self.image_path(new, number, ref)
                if keep_old:
                    self._write(target, source.read_bytes())
                else:
                    os.replace(source, target)
            self.put(moved)
        if not keep_old:
            self.forget(old)

    def image_path(self, path: str, number: int, ref: ThumbnailRef) -> Path:
        """Where thumbnail ``number`` of the file at ``path`` is kept."""
        return self._dir / f"{self._stem(path)}-{number}.{ref.format.value}"

    def _remove_images(self, path: str) -> None:
        if self._dir.is_dir():
            for image in self._dir.glob(f"{self._stem(path)}-*"):
                _unlink(image)

    def _write(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            _unlink(Path(tmp))
            raise

    @staticmethod
    def _stem(path: str) -> str:
        return hashlib.sha1(path.encode("utf-8")).hexdigest()

    def _sidecar(self, path: str) -> Path:
        return self._dir / (self._stem(path) + ".json")

    def _read(self, path: str) -> Entry | None:
        try:
            record = json.loads(self._sidecar(path).read_text(encoding="utf-8"))
            if record.get("format") != _FORMAT or record.get("path") != path:
                return None
            thumbnails = tuple(ThumbnailRef(int(t["width"]), int(t["height"]), ImageFormat(t["format"]))
                               for t in record["thumbnails"])
            return Entry(path, int(record["size"]), int(record["mtime_ns"]), str(record["hash"]),
                         Analysis.from_dict(record["analysis"]), thumbnails)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable metadata for %s: %s", path, exc)
            return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
