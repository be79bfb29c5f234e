"""The slicer's preview images embedded in G-code, found in the same pass as the analysis.

PrusaSlicer, SuperSlicer and OrcaSlicer write each thumbnail as base64 in comment lines::

    ; thumbnail begin 300x300 15532          (PNG; "thumbnail_JPG" and "thumbnail_QOI" likewise)
    ; iVBORw0KGgoAAAANSUhEUgAA...
    ; thumbnail end

Sans-I/O like the analyser: ``ThumbnailScanner.feed(bytes)`` takes chunks as they stream in and
``result()`` returns what was found. Outside a block a chunk costs one substring search, so a
file of hundreds of MB costs next to nothing more. Browsers show PNG and JPEG but not QOI, so a
QOI image is decoded here and re-encoded as PNG (both formats are a few dozen lines; see
``qoi.py``). Limits keep a hostile file from growing memory: at most ``MAX_IMAGES`` images of
at most ``MAX_BASE64`` characters each, and QOI images of at most ``MAX_PIXELS`` pixels.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import re
from dataclasses import dataclass

from farmctl.files.qoi import QoiError, qoi_to_png

log = logging.getLogger(__name__)

MAX_IMAGES = 8
MAX_BASE64 = 4 * 1024 * 1024
MAX_LINE = 64 * 1024
_MARK = b"thumbnail"
_BEGIN = re.compile(rb"^;\s*thumbnail(?:_(JPG|QOI|PNG))?\s+begin\s+(\d{1,5})\s*x\s*(\d{1,5})(?:\s+(\d+))?\s*$", re.I)
_END = re.compile(rb"^;\s*thumbnail(?:_(?:JPG|QOI|PNG))?\s+end\s*$", re.I)


class ImageFormat(enum.Enum):
    PNG = "png"
    JPEG = "jpg"

    @property
    def media_type(self) -> str:
        return "image/png" if self is ImageFormat.PNG else "image/jpeg"


_MAGIC = {ImageFormat.PNG: b"\x89PNG\r\n\x1a\n", ImageFormat.JPEG: b"\xff\xd8\xff"}


@dataclass(frozen=True, slots=True)
class Thumbnail:
    width: int
    height: int
    format: ImageFormat
    """What ``data`` is (a QOI original has become PNG)."""
    embedded: str
    """How the slicer stored it: "png", "jpg" or "qoi"."""
    data: bytes


@dataclass(slots=True)
class _Block:
    width: int
    height: int
    embedded: str
    parts: list[bytes]
    size: int = 0


class ThumbnailScanner:
    """Feed G-code bytes in order with :meth:`feed`; the images found with :meth:`result`."""

    def __init__(self) -> None:
        self._tail = b""
        self._block: _Block | None = None
        self._found: list[Thumbnail] = []

    def feed(self, data: bytes) -> None:
        if not data or len(self._found) >= MAX_IMAGES:
            return
        text = self._tail + data
        cut = text.rfind(b"\n")
        if self._block is None and text.find(_MARK) < 0:
            # Nothing starts here; only a "thumbnail begin" split across chunks needs the tail.
            self._tail = text[cut + 1:][-MAX_LINE:] if cut >= 0 else text[-MAX_LINE:]
            return
        if cut < 0:
            self._tail = text[-MAX_LINE:] if len(text) > MAX_LINE else text
            return
        self._tail = text[cut + 1:][-MAX_LINE:]
        for line in text[:cut].split(b"\n"):
            self._line(line.strip())
            if len(self._found) >= MAX_IMAGES:
                break

    def result(self) -> tuple[Thumbnail, ...]:
        if self._tail:
            tail, self._tail = self._tail, b""
            self._line(tail.strip())
        return tuple(self._found)

    def _line(self, line: bytes) -> None:
        block = self._block
        if block is None:
            if line.startswith(b";") and _MARK in line[:24].lower():
                match = _BEGIN.match(line)
                if match is not None:
                    kind = (match.group(1) or b"png").decode().lower()
                    self._block = _Block(int(match.group(2)), int(match.group(3)), kind, [])
            return
        if not line.startswith(b";"):
            self._block = None  # the block ended without its end line: not an image
            return
        if _END.match(line):
            self._block = None
            self._finish(block)
            return
        chunk = line[1:].strip()
        block.size += len(chunk)
        if block.size > MAX_BASE64:
            log.warning("a %dx%d thumbnail is larger than %d base64 characters; skipped",
                        block.width, block.height, MAX_BASE64)
            self._block = None
            return
        block.parts.append(chunk)

    def _finish(self, block: _Block) -> None:
        try:
            data = base64.b64decode(b"".join(block.parts), validate=True)
        except (binascii.Error, ValueError):
            log.warning("a %dx%d thumbnail is not valid base64; skipped", block.width, block.height)
            return
        if block.embedded == "qoi":
            try:
                width, height, data = qoi_to_png(data)
            except QoiError as exc:
                log.warning("a QOI thumbnail could not be decoded (%s); skipped", exc)
                return
            self._found.append(Thumbnail(width, height, ImageFormat.PNG, "qoi", data))
            return
        image_format = ImageFormat.JPEG if block.embedded == "jpg" else ImageFormat.PNG
        if not data.startswith(_MAGIC[image_format]):
            log.warning("a %dx%d thumbnail is not a %s image; skipped", block.width, block.height, block.embedded)
            return
        self._found.append(Thumbnail(block.width, block.height, image_format, block.embedded, data))
