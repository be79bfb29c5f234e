"""Remembered hash and analysis per file, so neither is computed twice, even across restarts.

One small JSON sidecar per file under ``<root>/.farmctl-meta/``, named by the SHA-1 of the file's
relative path (so long or odd names never hit NAME_MAX). An entry counts only while the file's
path, size and mtime (ns) still match; anything else means the file changed and is analysed
again. Sidecars are written to a temp file and ``os.replace``d, so a crash leaves the old entry
or the new one, never half of one. All methods block: call them from the store's worker thread.
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

log = logging.getLogger(__name__)

META_DIR = ".farmctl-meta"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    size: int
    mtime_ns: int
    hash: str
    analysis: Analysis


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

    def put(self, entry: Entry) -> None:
        self._memory[entry.path] = entry
        record = {
            "format": _FORMAT, "path": entry.path, "size": entry.size, "mtime_ns": entry.mtime_ns,
            "hash": entry.hash, "analysis": entry.analysis.to_dict(),
        }
        self._dir.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(tmp, self._sidecar(entry.path))
        except BaseException:
            _unlink(Path(tmp))
            raise

    def forget(self, path: str) -> None:
        self._memory.pop(path, None)
        _unlink(self._sidecar(path))

    def carry(self, old: str, new: str, size: int, mtime_ns: int, *, keep_old: bool) -> None:
        """After a move or copy that kept the file's mtime, file the entry under the new path."""
        entry = self.get(old, size, mtime_ns)
        if entry is not None:
            self.put(Entry(new, size, mtime_ns, entry.hash, entry.analysis))
        if not keep_old:
            self.forget(old)

    def _sidecar(self, path: str) -> Path:
        return self._dir / (hashlib.sha1(path.encode("utf-8")).hexdigest() + ".json")

    def _read(self, path: str) -> Entry | None:
        try:
            record = json.loads(self._sidecar(path).read_text(encoding="utf-8"))
            if record.get("format") != _FORMAT or record.get("path") != path:
                return None
            return Entry(path, int(record["size"]), int(record["mtime_ns"]), str(record["hash"]),
                         Analysis.from_dict(record["analysis"]))
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
