"""How Marlin turns received bytes into lines and decides whether to accept them.

Pure functions and tiny state machines, no time and no I/O, so every quirk (truncation at 95
characters, ``;`` cutting off ``*cs``, the M110 exception, the emergency parser reacting to
bytes before the line is read) can be table-tested a byte at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from farmctl.profiles import ChecksumWithoutLine
from farmctl.protocol.gcode import checksum
from farmctl.protocol.replies import LineErrorKind

EOL = frozenset(b"\r\n")
_BACKSPACE = 0x08
_SPECIAL = (b";", b"\\", b"\x08")


def error_reply(error: LineErrorKind, last_n: int) -> str:
    """``Error:<text>, Last Line: <last>``, in the wording the host's reply parser reads."""
    return f"Error:{error.value}, Last Line: {last_n}"


@dataclass(frozen=True, slots=True)
class Accepted:
    """A line that passed the checks; ``command`` has no ``N<n>`` and no ``*cs``."""

    command: str
    line_number: int | None
    from_sd: bool = False  # read from the SD card being printed: executed without an ok


@dataclass(frozen=True, slots=True)
class Rejected:
    error: LineErrorKind


class LineAssembler:
    """Marlin's ``process_stream_char``: comments, escapes, backspace and truncation.

    ``feed`` returns the finished line at ``\\n`` or ``\\r`` (possibly empty, which Marlin
    skips without an ok) and None otherwise.
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._buffer = bytearray()
        self._skipping = False  # after ';' or once the line is too long
        self._escaped = False

    @property
    def pending(self) -> int:
        """Characters of a partial line held (Prusa's RX timeout looks at this)."""
        return len(self._buffer)

    def clear(self) -> None:
        self._buffer.clear()
        self._skipping = self._escaped = False

    def feed(self, byte: int) -> bytes | None:
        if byte in EOL:
            return self.end_line()
        self.feed_text(bytes([byte]))
        return None

    def end_line(self) -> bytes:
        """The line so far (empty for a blank or comment-only line); starts a new one."""
        line = bytes(self._buffer)
        self.clear()
        return line

    def feed_text(self, data: bytes) -> None:
        """Characters of a line (no end-of-line among them), handled in bulk when plain."""
        if self._skipping:
            return
        if not self._escaped and not any(c in data for c in _SPECIAL):
            room = self.max_length - len(self._buffer)
            self._buffer += data[:room]
            if len(data) >= room:
                self._skipping = True
            return
        for byte in data:
            if self._skipping:
                return
            if self._escaped:
                self._escaped = False
            elif byte == 0x5C:  # backslash: the next character is taken literally
                self._escaped = True
                continue
            elif byte == 0x3B:  # ';' starts a comment that runs to the end of the line
                self._skipping = True
                continue
            if byte == _BACKSPACE:
                if self._buffer:
                    self._buffer.pop()
                continue
            self._buffer.append(byte)
            if len(self._buffer) >= self.max_length:
                self._skipping = True


def _leading_int(text: str) -> int:
    """C's ``strtol(text, NULL, 10)``: the leading signed integer, 0 when there is none."""
    match = re.match(r"\s*[+-]?\d+", text)
    return int(match.group(0)) if match else 0


def strip_command(text: str) -> str:
    """What Marlin's G-code parser sees: no leading ``N<n>``, nothing from the first ``*``."""
    text = text.lstrip(" ")
    if text[:1] == "N":
        text = re.sub(r"^N[+-]?\d*\s*", "", text)
    return text.split("*", 1)[0].rstrip()


def check_line(line: bytes, last_n: int, unnumbered_checksum: ChecksumWithoutLine,
               skip_leading_spaces: bool = True) -> Accepted | Rejected:
    """Marlin 2.x ``get_serial_commands`` checks: line number, checksum present, checksum value.

    M110 lines skip the sequence check and take their number from the ``N`` after the
    command, so ``N0 M110 N0*125`` resets numbering as soon as it is read.
    """
    text = line.decode("latin-1")
    command = text.lstrip(" ") if skip_leading_spaces else text
    if command[:1] != "N":
        if "*" in command and unnumbered_checksum is ChecksumWithoutLine.REJECT:
            return Rejected(LineErrorKind.NO_LINE_NUMBER)
        return Accepted(strip_command(command), None)
    number_text = command[1:]
    is_m110 = "M110" in command
    if is_m110:
        second = command.find("N", 4)
        if second >= 0:
            number_text = command[second + 1:]
    number = _leading_int(number_text)
    if number != last_n + 1 and not is_m110:
        return Rejected(LineErrorKind.LINE_NUMBER)
    star = command.rfind("*")
    if star < 0:
        return Rejected(LineErrorKind.NO_CHECKSUM)
    if _leading_int(command[star + 1:]) != checksum(line[len(line) - len(command):][:star]):
        return Rejected(LineErrorKind.CHECKSUM_MISMATCH)
    return Accepted(strip_command(command), number)


class Emergency(Enum):
    M108 = "M108"
    M112 = "M112"
    M410 = "M410"
    M876 = "M876"


_EP_LINE = re.compile(rb"^[ ]*(?:N[-0-9 ]*)?M(108|112|410|876)")
_EP_M876 = re.compile(rb"^[ ]*(?:N[-0-9 ]*)?M876[ ]*S[ ]*(\d+)")


class EmergencyParser:
    """Marlin's ``e_parser.h``: watches bytes as they arrive, before the RX ring, and acts at
    end of line on M108, M112, M410 and M876 S<n>, whatever the command queue is doing."""

    _KEEP = 24  # the state machine decides within the first few characters

    def __init__(self) -> None:
        self._line = bytearray()

    def feed(self, byte: int) -> tuple[Emergency, int | None] | None:
        if byte not in EOL:
            if len(self._line) < self._KEEP:
                self._line.append(byte)
            return None
        return self.end_line()

    def feed_text(self, data: bytes) -> None:
        """Characters of a line with no end-of-line among them."""
        room = self._KEEP - len(self._line)
        if room > 0:
            self._line += data[:room]

    def end_line(self) -> tuple[Emergency, int | None] | None:
        line = bytes(self._line)
        self._line.clear()
        match = _EP_LINE.match(line)
        if match is None:
            return None
        kind = Emergency("M" + match.group(1).decode())
        if kind is Emergency.M876:
            answer = _EP_M876.match(line)
            return (kind, int(answer.group(1))) if answer else None
        return kind, None
