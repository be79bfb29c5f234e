"""MeatPack: G-code packed two characters to a byte on the wire, for firmwares that unpack it.

The format (Scott Mudge's, in Marlin's ``feature/meatpack`` and Prusa-Firmware's ``meatpack.cpp``):
the fifteen most common G-code characters ``0-9 . space newline G X`` each have a 4-bit code, and
a byte carries two of them, the first in its low half. The code ``1111`` says "this character is
not in the table": it follows the byte in full, first character before second. Two ``0xFF`` bytes
in a row, which packed data never holds (after a lone ``0xFF`` come two full characters, and G-code
is ASCII), announce a command byte: enable or disable packing, reset, query. The firmware answers
each with a state line such as ``[MP] PV01 ON ESP``. After a newline in the first half of a byte,
the second half is ignored: a line never shares its last byte with the next one.

The firmware unpacks in front of its line reader, so line numbers and checksums are those of the
text as the host wrote it, and its receive buffer holds packed bytes: the host counts a line's
packed size against it. Three rules of the firmware shape what a host must do:

* a line error flushes the receive buffer but not the unpacker's state, so after a ``Resend:`` the
  unpacker may be in the middle of a pair; a re-sent line starts with :data:`RESYNC` (reset, then
  enable), which the unpacker obeys in any state;
* the emergency parser reads the raw bytes as they arrive, so an emergency command goes out
  unpacked between :data:`DISABLE` and :data:`ENABLE` (see :meth:`MeatPack.unpacked`);
* "no spaces" mode (``E`` takes the space's code) would change the text the firmware parses and
  runs, so it is not used.

What no host can fix: with lines in flight, the flush after a line error can cut a line, and its
tail arrives afterwards. Unpacked, the tail still ends in its ``*checksum`` and is refused. Packed,
a tail (or a line read by an unpacker a corrupted byte put out of step) can decode without its
``*`` and becomes an unnumbered line without checksum, which Marlin runs: on a noisy line the
simulator ran such fragments. So a printer packs only when asked (``Printer(meatpack=True)``),
for a clean USB line.

No I/O here: bytes in, bytes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SIGNAL = b"\xff\xff"
ENABLE = SIGNAL + b"\xfb"
DISABLE = SIGNAL + b"\xfa"
RESET = SIGNAL + b"\xf9"
QUERY = SIGNAL + b"\xf8"
RESYNC = RESET + ENABLE
"""Reset the unpacker whatever its state (a flush may have cut a pair), then pack again."""

TABLE = b"0123456789. \nGX"
"""The characters with a 4-bit code, in code order; code 15 means "a full character follows"."""
LITERAL = 0xF
_CODES = {char: code for code, char in enumerate(TABLE)}
_NEWLINE = ord("\n")
_PAD = _CODES[ord(" ")]  # the ignored half after a newline


def _pair_table() -> dict[bytes, bytes]:
    """Every pair of table characters, packed: most of a line packs by looking pairs up."""
    return {bytes((a, b)): bytes((_CODES[a] | _CODES[b] << 4,)) for a in TABLE for b in TABLE}


_PAIRS = _pair_table()


def pack(line: bytes) -> bytes:
    """One line, ending in a newline, as the firmware's unpacker wants it.

    Raises ValueError for a line without its newline: an odd line's last byte must pair its
    newline with the ignored half, or the next line would start mid-byte.
    """
    if not line.endswith(b"\n"):
        raise ValueError("a packed line must end with its newline")
    out = bytearray()
    pairs = _PAIRS
    end = len(line) - 1 if len(line) % 2 else len(line)
    for i in range(0, end, 2):
        pair = line[i:i + 2]
        packed = pairs.get(pair)
        if packed is not None:
            out += packed
            continue
        first, second = _CODES.get(pair[0], LITERAL), _CODES.get(pair[1], LITERAL)
        out.append(first | second << 4)
        if first == LITERAL:
            out.append(pair[0])
        if second == LITERAL:
            out.append(pair[1])
    if end < len(line):  # the newline alone: the second half is ignored after it
        out.append(_CODES[_NEWLINE] | _PAD << 4)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class MeatPack:
    """What a sender needs to speak MeatPack: lines packed, and the byte sequences around them."""

    start: bytes = RESYNC
    """Sent before the first packed line: whatever state a previous host left, packing is on."""
    resync: bytes = RESYNC
    """Sent before a re-sent line: the flush that made the firmware ask may have cut a pair."""
    stop: bytes = RESET
    """Sent before a new session's handshake: a firmware that did not reset would still unpack."""

    def pack(self, line: bytes) -> bytes:
        return pack(line)

    def unpacked(self, line: bytes) -> bytes:
        """A line the firmware must see as sent, byte for byte (an emergency command, which the
        emergency parser reads from the raw bytes), with packing off around it."""
        return DISABLE + line + ENABLE



def firmware_unpacks(firmware_name: str, capabilities: Mapping[str, bool]) -> bool:
    """Whether the firmware may unpack MeatPack: M115's ``Cap:MEATPACK:1`` (Marlin 2 builds with
    MEATPACK), or Prusa-Firmware, whose M115 says nothing (its builds define ENABLE_MEATPACK)."""
    return bool(capabilities.get("MEATPACK")) or firmware_name.startswith("Prusa-Firmware")
