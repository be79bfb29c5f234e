"""The serial line between host and firmware: baud-rate timing, reply latency and faults.

No I/O and no clock: ``send(data, now)`` puts bytes on the line, ``take(now)`` returns the
bytes that have arrived by ``now`` as segments (first arrival time, time per byte, bytes) so
the firmware can see each byte at its own arrival time without one call per byte.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit


@dataclass(frozen=True, slots=True)
class LineFaults:
    """Per-byte probabilities for one direction; the drop is tried first, then the bit flip."""

    corrupt: float = 0.0
    drop: float = 0.0


@dataclass(frozen=True, slots=True)
class Segment:
    """Bytes that arrive back to back: byte ``i`` at ``first + i * byte_time``."""

    first: float
    byte_time: float
    data: bytes


class Channel:
    """One direction of the line.  Bytes leave one after another at the baud rate (``baud=0``
    means instant) and arrive ``latency`` seconds after they were transmitted."""

    def __init__(self, baud: int = 0, latency: float = 0.0, faults: LineFaults = LineFaults(),
                 rng: random.Random | None = None) -> None:
        self.byte_time = BITS_PER_BYTE / baud if baud else 0.0
        self.latency = latency
        self.faults = faults
        self._rng = rng or random.Random(0)
        self._pending: deque[Segment] = deque()
        self._free_at = -math.inf
        self.corrupted = 0
        self.dropped = 0

    def send(self, data: bytes, now: float) -> None:
        data = self._damage(data)
        if not data:
            return
        depart = max(now, self._free_at)
        self._free_at = depart + len(data) * self.byte_time
        self._pending.append(Segment(depart + self.byte_time + self.latency, self.byte_time, data))

    def _damage(self, data: bytes) -> bytes:
        corrupt, drop = self.faults.corrupt, self.faults.drop
        if not (corrupt or drop):
            return data
        rng = self._rng
        out = bytearray()
        for byte in data:
            if drop and rng.random() < drop:
                self.dropped += 1
                continue
            if corrupt and rng.random() < corrupt:
                byte ^= 1 << rng.randrange(8)
                self.corrupted += 1
            out.append(byte)
        return bytes(out)

    def next_arrival(self) -> float | None:
        """When the next undelivered byte arrives."""
        return self._pending[0].first if self._pending else None

    def last_arrival(self) -> float | None:
        if not self._pending:
            return None
        last = self._pending[-1]
        return last.first + (len(last.data) - 1) * last.byte_time

    def next_arrival_of(self, markers: bytes) -> float | None:
        """When the next byte among ``markers`` (e.g. end of line) arrives."""
        for segment in self._pending:
            found = [i for i in (segment.data.find(bytes([m])) for m in markers) if i >= 0]
            if found:
                return segment.first + min(found) * segment.byte_time
        return None

    def next_whole_arrival(self) -> float | None:
        """When the next sent block (one reply line) has arrived whole: its last byte's arrival."""
        if not self._pending:
            return None
        first = self._pending[0]
        return first.first + (len(first.data) - 1) * first.byte_time

    def take_whole(self, now: float) -> list[bytes]:
        """Each block sent (one reply line) whose last byte has arrived by ``now``, one by one, oldest first."""
        ready: list[bytes] = []
        pending = self._pending
        while pending and pending[0].first + (len(pending[0].data) - 1) * pending[0].byte_time <= now:
            ready.append(pending.popleft().data)
        return ready

    def take(self, now: float) -> list[Segment]:
        """Every byte that has arrived by ``now``, oldest first."""
        ready: list[Segment] = []
        pending = self._pending
        while pending and pending[0].first <= now:
            segment = pending[0]
            if segment.byte_time == 0:
                count = len(segment.data)
            else:
                count = min(len(segment.data), int((now - segment.first) / segment.byte_time + 1e-9) + 1)
            if count >= len(segment.data):
                ready.append(pending.popleft())
                continue
            ready.append(Segment(segment.first, segment.byte_time, segment.data[:count]))
            pending[0] = Segment(segment.first + count * segment.byte_time, segment.byte_time, segment.data[count:])
            break
        return ready

    def clear(self) -> None:
        """Drop everything in flight (the cable was pulled)."""
        self._pending.clear()
        self._free_at = -math.inf


class Wire:
    """Both directions: host to printer (``rx``, as the printer sees it) and printer to host (``tx``)."""

    def __init__(self, baud: int = 0, reply_latency: float = 0.0, rx_faults: LineFaults = LineFaults(),
                 tx_faults: LineFaults = LineFaults(), seed: int = 0) -> None:
        self.rx = Channel(baud, 0.0, rx_faults, random.Random(f"{seed}:rx"))
        self.tx = Channel(baud, reply_latency, tx_faults, random.Random(f"{seed}:tx"))

    @property
    def corrupted(self) -> int:
        return self.rx.corrupted + self.tx.corrupted

    @property
    def dropped(self) -> int:
        return self.rx.dropped + self.tx.dropped
