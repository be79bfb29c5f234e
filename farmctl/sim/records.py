"""What the simulator hands back to tests and benchmarks: executed commands and counters."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Executed:
    """One command the firmware ran, in execution order.

    ``numbered`` is False for unnumbered host lines and for the tails of lines cut in half by
    an RX flush, which Marlin 2 runs without a line number: a test that checks "every job line
    ran exactly once" looks at the numbered records and asserts there are no stray tails.
    """

    line_number: int | None
    command: str
    numbered: bool
    at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Stats:
    """Counters of one simulated printer; times are in seconds of the caller's clock."""

    bytes_received: int = 0      # arrived at the UART, including dropped ones
    bytes_dropped: int = 0       # lost because the RX ring was full
    bytes_flushed: int = 0       # emptied from the RX ring after a line error
    bytes_sent: int = 0
    lines_accepted: int = 0
    commands_executed: int = 0
    errors: int = 0              # resend requests sent
    moves: int = 0               # blocks that entered the planner
    planner_starved_s: float = 0.0  # planner empty between moves, not excused by G28/M109/...
    busy_s: float = 0.0          # time spent in commands that block (ok delayed)
    resets: int = 0
    wire_corrupted: int = 0      # bytes the wire garbled (both directions)
    wire_dropped: int = 0        # bytes the wire lost (both directions)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
