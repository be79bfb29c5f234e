"""Turn a client-supplied file name into a path that stays inside the uploads folder.

Names arrive from slicers, farm managers and URLs (``/api/files/local/<path>``), so every one is
treated as hostile: it is checked segment by segment as text first (:func:`safe_relative_path`),
then joined to the root and resolved on disk so a symlink cannot lead outside (:func:`resolve_in`).
Every rejection is a ``FarmctlError`` with status 400 that names the problem.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

from farmctl.errors import FarmctlError

ALLOWED_EXTENSIONS = frozenset({".gcode", ".gco", ".g", ".gjob"})
"""Suffixes (compared case-insensitively) a stored machine-code file may have."""

MAX_SEGMENT_BYTES = 255
"""NAME_MAX of ext4/FAT: longest file or folder name, in UTF-8 bytes."""

MAX_PATH_BYTES = 1024
"""Longest relative path we accept, in UTF-8 bytes."""

_DRIVE = re.compile(r"^[A-Za-z]:")
# C0 controls, DEL and C1 controls; NUL is among them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_allowed_extension(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in ALLOWED_EXTENSIONS


def safe_relative_path(name: str, *, require_extension: bool = True) -> PurePosixPath:
    """Check and normalise an OctoPrint-style relative path such as ``folder/sub/file.gcode``.

    Normalises Unicode to NFC, collapses repeated ``/`` and drops ``.`` segments and a trailing
    ``/``. Rejects absolute paths, ``..``, backslashes, control characters, drive letters, empty
    names, hidden segments (leading ``.``), segments with leading or trailing blanks and
    over-long names. With ``require_extension`` (the default, for uploads) the last segment must
    end in one of :data:`ALLOWED_EXTENSIONS`; pass ``False`` for folders.
    """
    if not isinstance(name, str):
        raise FarmctlError("file name must be text", 400)
    text = unicodedata.normalize("NFC", name)
    if _CONTROL.search(text):
        raise FarmctlError("file name contains a control character", 400)
    if "\\" in text:
        raise FarmctlError("file name contains a backslash", 400)
    if _DRIVE.match(text):
        raise FarmctlError("file name must not start with a drive letter", 400)
    if text.startswith("/"):
        raise FarmctlError("file name must be relative, not absolute", 400)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8, kept as surrogates by the decoder
        raise FarmctlError("file name is not valid UTF-8", 400) from None
    if len(encoded) > MAX_PATH_BYTES:
        raise FarmctlError(f"file path is longer than {MAX_PATH_BYTES} bytes", 400)
    segments = [segment for segment in text.split("/") if segment not in ("", ".")]
    if not segments:
        raise FarmctlError("file name is empty", 400)
    for segment in segments:
        _check_segment(segment)
    path = PurePosixPath(*segments)
    if require_extension and not has_allowed_extension(path.name):
        allowed = ", ".join(sorted(ALLOWED_EXTENSIONS))
        raise FarmctlError(f"{path.name!r} is not a G-code file (allowed: {allowed})", 400)
    return path


def _check_segment(segment: str) -> None:
    if segment == "..":
        raise FarmctlError("file name must not contain '..'", 400)
    if segment.startswith("."):
        raise FarmctlError(f"hidden names are not allowed: {segment!r}", 400)
    if segment != segment.strip():
        raise FarmctlError(f"name has leading or trailing blanks: {segment!r}", 400)
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise FarmctlError(f"a name in the path is longer than {MAX_SEGMENT_BYTES} bytes", 400)


def resolve_in(root: Path, relative: str, *, require_extension: bool = True) -> Path:
    """Join a checked relative path to ``root`` and prove the result stays inside it.

    Symlinks along the way are resolved (a missing tail is fine, for new files); if the real
    location falls outside the real root the name is rejected. Returns the joined path under the
    resolved root, not the symlink target, so an operation acts on the entry the client named.
    Does blocking file-system calls: run it off the event loop.
    """
    rel = safe_relative_path(relative, require_extension=require_extension)
    real_root = Path(root).resolve()
    candidate = real_root.joinpath(*rel.parts)
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on Python < 3.13
        raise FarmctlError(f"cannot resolve {rel}: {exc}", 400) from exc
    if not real.is_relative_to(real_root) or real == real_root:
        raise FarmctlError(f"{rel} points outside the uploads folder", 400)
    return candidate
