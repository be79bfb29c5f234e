"""A printer's states and the moves between them (one table), and the records a print leaves:
how it ended, the events clients are told about, its result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PrinterState(Enum):
    OFFLINE = "Offline"
    CONNECTING = "Connecting"
    OPERATIONAL = "Operational"
    STARTING = "Starting"  # the file is being checked before its first line is sent
    PRINTING = "Printing"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    CANCELLING = "Cancelling"
    TRANSFERRING = "Transferring file to SD"
    ERROR = "Error"


_S = PrinterState
RUNNING = frozenset({_S.PRINTING, _S.PAUSING, _S.PAUSED})
"""States of a print under way."""
TRANSITIONS: dict[PrinterState, frozenset[PrinterState]] = {
    _S.OFFLINE: frozenset({_S.CONNECTING}),
    _S.CONNECTING: frozenset({_S.OPERATIONAL, _S.ERROR, _S.OFFLINE}),
    _S.OPERATIONAL: frozenset({_S.STARTING, _S.PRINTING, _S.TRANSFERRING, _S.ERROR, _S.OFFLINE, _S.CONNECTING}),
    _S.STARTING: frozenset({_S.PRINTING, _S.OPERATIONAL, _S.ERROR, _S.OFFLINE}),
    _S.TRANSFERRING: frozenset({_S.OPERATIONAL, _S.ERROR, _S.OFFLINE}),
    _S.PRINTING: frozenset({_S.PAUSING, _S.PAUSED, _S.CANCELLING, _S.OPERATIONAL, _S.ERROR, _S.OFFLINE}),
    _S.PAUSING: frozenset({_S.PAUSED, _S.CANCELLING, _S.PRINTING, _S.ERROR, _S.OFFLINE}),
    # PAUSED -> OPERATIONAL: a card's print that the firmware finished before it read the host's M25
    _S.PAUSED: frozenset({_S.PRINTING, _S.CANCELLING, _S.OPERATIONAL, _S.ERROR, _S.OFFLINE}),
    _S.CANCELLING: frozenset({_S.OPERATIONAL, _S.ERROR, _S.OFFLINE}),
    _S.ERROR: frozenset({_S.CONNECTING, _S.OFFLINE}),
}


class JobOutcome(Enum):
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class PrintEvent(Enum):
    """The moments of a print that clients are told about; the value is OctoPrint's event name."""

    STARTED = "PrintStarted"
    PAUSED = "PrintPaused"
    RESUMED = "PrintResumed"
    DONE = "PrintDone"
    FAILED = "PrintFailed"
    CANCELLED = "PrintCancelled"


ENDED = {JobOutcome.DONE: PrintEvent.DONE, JobOutcome.FAILED: PrintEvent.FAILED,
         JobOutcome.CANCELLED: PrintEvent.CANCELLED}
"""The event that tells clients how a print ended."""


@dataclass(frozen=True, slots=True)
class JobResult:
    outcome: JobOutcome
    reason: str
    commands_acknowledged: int
    seconds: float
