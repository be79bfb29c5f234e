"""The firmware's MeatPack unpacker, as Marlin and Prusa-Firmware run it in front of their line reader.

Fed one received byte at a time (as the firmware reads its RX buffer), it returns the characters
the line reader gets: none, one or two. What the model keeps, because a host breaks on exactly
these details:

* commands (``0xFF 0xFF`` then a command byte) are recognised in any state, also while packing is
  off, and each one is answered with a state line (``[MP] PV01 ON ESP``; Prusa starts it with a
  space);
* a lone ``0xFF`` is a packed byte whose two characters both follow in full;
* after a newline in a byte's first half the second half is dropped;
* the firmware's RX flush after a line error empties the buffer, not this state: a pair cut in
  half by a flush garbles what follows until the host resets the unpacker.
"""

from __future__ import annotations

from farmctl.protocol.meatpack import LITERAL, TABLE

_COMMAND_BYTE = 0xFF
_ENABLE, _DISABLE, _TOGGLE, _RESET, _QUERY, _NO_SPACES, _SPACES = 0xFB, 0xFA, 0xFD, 0xF9, 0xF8, 0xF7, 0xF6
_NEWLINE = ord("\n")
_SPACE_CODE = TABLE.index(b" ")


class Unpacker:
    """One firmware's MeatPack state. ``report_prefix`` is what its state lines start with."""

    def __init__(self, report_prefix: str = "[MP] ") -> None:
        self.report_prefix = report_prefix
        self.reports: list[str] = []
        """State lines printed since the caller last took them."""
        self._reset()

    def _reset(self) -> None:
        self.active = False
        self.no_spaces = False
        self._table = bytearray(TABLE)
        self._signals = 0  # 0xFF bytes seen in a row (0 or 1)
        self._command_next = False
        self._literals = 0  # full characters still to come for the current byte
        self._held: int | None = None  # a byte's unpacked second character, due after its literal first

    def feed(self, byte: int) -> bytes:
        """The characters one received byte gives the line reader."""
        if byte == _COMMAND_BYTE:
            if self._signals:
                self._command_next, self._signals = True, 0
            else:
                self._signals = 1
            return b""
        if self._command_next:
            self._command_next = False
            self._command(byte)
            return b""
        if self._signals:  # a lone 0xFF: a packed byte whose characters both come in full
            self._signals = 0
            return self._unpack(_COMMAND_BYTE) + self._unpack(byte)
        return self._unpack(byte)

    def _unpack(self, byte: int) -> bytes:
        if not self.active:
            return bytes((byte,))
        if self._literals:
            self._literals -= 1
            held, self._held = self._held, None
            return bytes((byte,)) if held is None else bytes((byte, held))
        first, second = byte & 0xF, byte >> 4
        if first == LITERAL:
            self._literals = 1 + (second == LITERAL)
            self._held = None if second == LITERAL else self._table[second]
            return b""
        char = self._table[first]
        if char == _NEWLINE:
            return b"\n"  # the second half after a newline is ignored
        if second == LITERAL:
            self._literals = 1
            return bytes((char,))
        return bytes((char, self._table[second]))

    def _command(self, command: int) -> None:
        if command == _ENABLE:
            self.active = True
        elif command == _DISABLE:
            self.active = False
        elif command == _TOGGLE:
            self.active = not self.active
        elif command == _RESET:
            self._reset()
        elif command == _NO_SPACES:
            self.no_spaces = True
            self._table[_SPACE_CODE] = ord("E")
        elif command == _SPACES:
            self.no_spaces = False
            self._table[_SPACE_CODE] = ord(" ")
        self.reports.append(f"{self.report_prefix}PV01 {'ON' if self.active else 'OFF'} "
                            f"{'NSP' if self.no_spaces else 'ESP'}")

    def take_reports(self) -> list[str]:
        reports, self.reports = self.reports, []
        return reports
