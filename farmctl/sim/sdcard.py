"""The simulated printer's SD card: files with 8.3 and long names, one file open for printing or
for writing, and the position reached in it. No I/O, no clock: the firmware drives it.

Marlin addresses files by their 8.3 name (``CUBE~1.GCO``), lists them with sizes (and, with
LONG_FILENAME/EXTENDED_M20, their long names under ``M20 L``), prints one at a time from a byte
position, and writes one while a host uploads it between M28 and M29.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from farmctl.protocol.sdnames import short_name


@dataclass(slots=True)
class SdFile:
    long_name: str
    data: bytearray = field(default_factory=bytearray)


class SdCard:
    """Files by 8.3 name; ``inserted`` False is an empty slot (M21 fails)."""

    def __init__(self, files: dict[str, bytes] | None = None, *, inserted: bool = True) -> None:
        self.inserted = inserted
        self.mounted = False
        self.files: dict[str, SdFile] = {}
        for name, data in (files or {}).items():
            self.add(name, data)
        self.open_name: str | None = None  # the file selected for printing (M23)
        self.position = 0
        self.printing = False
        self.writing: str | None = None  # the file M28 opened

    def add(self, long_name: str, data: bytes = b"") -> str:
        """Put a file on the card (as if copied on a computer); its 8.3 name."""
        for short, existing in self.files.items():
            if existing.long_name == long_name:
                existing.data = bytearray(data)
                return short
        short = short_name(long_name, set(self.files))
        self.files[short] = SdFile(long_name, bytearray(data))
        return short

    def find(self, name: str) -> str | None:
        """The 8.3 name of a file named by its 8.3 or long name (either case), if it is on the card."""
        wanted = name.strip().lstrip("/")
        for short, file in self.files.items():
            if wanted.upper() == short or wanted == file.long_name:
                return short
        return None

    @property
    def size(self) -> int:
        return len(self.files[self.open_name].data) if self.open_name in self.files else 0

    def next_line(self) -> str | None:
        """The open file's next line, moving the position on; None at the end."""
        if self.open_name not in self.files:
            return None
        data = self.files[self.open_name].data
        if self.position >= len(data):
            return None
        end = data.find(b"\n", self.position)
        end = len(data) if end < 0 else end + 1
        line = data[self.position:end].decode("ascii", "replace")
        self.position = end
        return line

    def close(self) -> None:
        self.printing = False
        self.open_name = None
        self.position = 0
