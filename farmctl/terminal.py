"""The last lines that crossed a printer's wire, for OctoPrint's terminal (``logs``) and ``messages``.

The serial thread records whole reads and writes (one append each, nothing per line on the hot
path); readers, a few times a second at most, turn them into lines. Received data is kept in whole
lines: a read that ends inside a line waits for the rest.

One thread writes and any may read, without a lock: a deque's append and its copy by ``list()``
are each one step under the interpreter lock, and a reader filters the copy by sequence number.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

CHUNKS = 512
"""Reads and writes kept: a few hundred lines of history, like OctoPrint's terminal."""


@dataclass(frozen=True, slots=True)
class TerminalLines:
    """What crossed the wire after a reader's last look; pass ``seq`` back next time."""

    seq: int
    logs: list[str]      # "Send: N12 G1 X3*45", "Recv: ok", in wire order
    messages: list[str]  # the received lines alone


class Terminal:
    def __init__(self, chunks: int = CHUNKS) -> None:
        self._chunks: deque[tuple[int, bool, bytes]] = deque(maxlen=chunks)  # (seq, sent, whole lines)
        self._seq = 0
        self._partial = b""

    @property
    def seq(self) -> int:
        """The newest chunk's number: a reader that starts here sees only what comes after."""
        return self._seq

    def sent(self, data: bytes) -> None:
        self._add(True, data)

    def received(self, data: bytes) -> None:
        if self._partial or not data.endswith(b"\n"):
            data = self._partial + data
            cut = data.rfind(b"\n") + 1
            data, self._partial = data[:cut], data[cut:]
            if not data:
                return
        self._add(False, data)

    def _add(self, sent: bool, data: bytes) -> None:
        # Append, then count: a reader that sees the new number always finds its chunk.
        self._chunks.append((self._seq + 1, sent, data))
        self._seq += 1

    def chunks_since(self, seq: int) -> list[tuple[int, bool, bytes]]:
        """The chunks recorded after ``seq``, as kept: what a serial worker ships to the main process."""
        return self._between(seq, self._seq)

    def _between(self, seq: int, newest: int) -> list[tuple[int, bool, bytes]]:
        return [chunk for chunk in list(self._chunks) if seq < chunk[0] <= newest] if seq < newest else []

    def add_chunks(self, chunks: tuple[tuple[int, bool, bytes], ...]) -> None:
        """Record chunks another terminal recorded (a serial worker's), in their order."""
        for _, sent, data in chunks:
            self._add(sent, data)

    def since(self, seq: int, limit: int = 200) -> TerminalLines:
        """Lines recorded after ``seq`` (the last ``limit`` of them if there are more)."""
        newest = self._seq
        chunks = self._between(seq, newest)
        logs: list[str] = []
        messages: list[str] = []
        for _, sent, data in chunks:
            for raw in data.decode("ascii", "replace").splitlines():
                line = raw.strip()
                if not line:
                    continue
                if sent:
                    logs.append(f"Send: {line}")
                else:
                    logs.append(f"Recv: {line}")
                    messages.append(line)
        return TerminalLines(newest, logs[-limit:], messages[-limit:])
