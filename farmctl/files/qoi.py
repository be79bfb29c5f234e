"""QOI ("Quite OK Image", qoiformat.org) to PNG, for slicer thumbnails a browser cannot show as QOI.

Both directions are small: QOI is a byte-oriented format of six chunk kinds; the PNG written
here is the simplest valid one (8-bit RGBA, filter 0 on every row, one IDAT). Thumbnails are a
few hundred pixels square, so pure Python is fast enough (about 0.1 s for 300x300), and
``MAX_PIXELS`` bounds the work a hostile file can ask for.
"""

from __future__ import annotations

import struct
import zlib

MAX_PIXELS = 1024 * 1024
_MAGIC = b"qoif"
_END = b"\x00\x00\x00\x00\x00\x00\x00\x01"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class QoiError(ValueError):
    """The bytes are not a QOI image this decoder accepts."""


def qoi_to_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, PNG bytes) of a QOI image."""
    width, height, rgba = decode_qoi(data)
    return width, height, encode_png(width, height, rgba)


def decode_qoi(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGBA pixels, 4 bytes each, rows top to bottom)."""
    if len(data) < 14 + len(_END) or data[:4] != _MAGIC:
        raise QoiError("not a QOI image")
    width, height, channels, colorspace = struct.unpack(">IIBB", data[4:14])
    if channels not in (3, 4) or colorspace not in (0, 1):
        raise QoiError(f"bad header (channels {channels}, colorspace {colorspace})")
    pixels = width * height
    if not 0 < pixels <= MAX_PIXELS:
        raise QoiError(f"{width}x{height} is empty or larger than {MAX_PIXELS} pixels")
    out = bytearray(pixels * 4)
    index = [(0, 0, 0, 0)] * 64
    r, g, b, a = 0, 0, 0, 255
    pos, end = 14, len(data) - len(_END)
    run = 0
    for at in range(0, pixels * 4, 4):
        if run:
            run -= 1
        elif pos < end:
            byte = data[pos]
            pos += 1
            if byte == 0xFE:  # QOI_OP_RGB
                r, g, b = data[pos], data[pos + 1], data[pos + 2]
                pos += 3
            elif byte == 0xFF:  # QOI_OP_RGBA
                r, g, b, a = data[pos], data[pos + 1], data[pos + 2], data[pos + 3]
                pos += 4
            else:
                tag, value = byte >> 6, byte & 0x3F
                if tag == 0:  # QOI_OP_INDEX
                    r, g, b, a = index[value]
                elif tag == 1:  # QOI_OP_DIFF
                    r = (r + (value >> 4) - 2) & 0xFF
                    g = (g + ((value >> 2) & 3) - 2) & 0xFF
                    b = (b + (value & 3) - 2) & 0xFF
                elif tag == 2:  # QOI_OP_LUMA
                    second = data[pos]
                    pos += 1
                    dg = value - 32
                    r = (r + dg + (second >> 4) - 8) & 0xFF
                    g = (g + dg) & 0xFF
                    b = (b + dg + (second & 0x0F) - 8) & 0xFF
                else:  # QOI_OP_RUN: this pixel and ``value`` more
                    run = value
            index[(r * 3 + g * 5 + b * 7 + a * 11) % 64] = (r, g, b, a)
        else:
            raise QoiError("the image data ends early")
        out[at], out[at + 1], out[at + 2], out[at + 3] = r, g, b, a
    if pos > end:
        raise QoiError("the image data runs into the end marker")
    return width, height, bytes(out)


def encode_png(width: int, height: int, rgba: bytes) -> bytes:
    """An 8-bit RGBA PNG of ``rgba`` (``width * height * 4`` bytes)."""
    stride = width * 4
    if len(rgba) != stride * height:
        raise ValueError("pixel data does not match the size")
    raw = b"".join(b"\x00" + rgba[row:row + stride] for row in range(0, len(rgba), stride))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
