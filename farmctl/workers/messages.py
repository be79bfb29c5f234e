"""The wire between the farm's main process and a serial worker: commands in, reports out.

One pickled record per message behind a 4-byte length, over the socket pair the main process made
when it started the worker; both ends are this package, so the protocol's own event records cross
unchanged. ``link`` numbers a printer's link in the farm; ``seq`` counts the commands the main
process sent that link, so a report says which of them had been applied when it was written (a
settled feed counts only if nothing was asked of it since).
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass

from farmctl.job import FeedSpec, FeedState
from farmctl.link import LinkEvent
from farmctl.link_ops import LinkOp
from farmctl.profiles import FirmwareProfile
from farmctl.protocol.events import SenderStats

_LENGTH = struct.Struct("!I")
MAX_MESSAGE = 64 * 2**20
"""A length above this is a broken stream, not a message."""


# -- main process -> worker ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Open:
    """Open the port and serve it (the link is made on first use, with this profile's sender)."""

    link: int
    port: str
    baud: int
    profile: FirmwareProfile


@dataclass(frozen=True, slots=True)
class Close:
    link: int


@dataclass(frozen=True, slots=True)
class Control:
    """Apply a printer's controls together (``farmctl.link_ops``)."""

    link: int
    seq: int
    ops: tuple[LinkOp, ...]


@dataclass(frozen=True, slots=True)
class UseProfile:
    """A new sender for this firmware profile (detected from M115)."""

    link: int
    seq: int
    profile: FirmwareProfile


@dataclass(frozen=True, slots=True)
class StartFeed:
    """Start a print's feed; ``z`` and ``relative`` are the printer's Z as the print starts."""

    link: int
    seq: int
    spec: FeedSpec
    z: float | None
    relative: bool


@dataclass(frozen=True, slots=True)
class StopFeed:
    link: int
    seq: int


Command = Open | Close | Control | UseProfile | StartFeed | StopFeed


# -- worker -> main process ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Opened:
    """The answer to ``Open``: ``error`` says why the port did not open ("" when it did)."""

    link: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class Closed:
    link: int


@dataclass(frozen=True, slots=True)
class Telemetry:
    """What the main process shows of a link between events: the print's progress, Z, counters, wire."""

    stats: SenderStats
    advanced_ok_seen: bool
    terminal: tuple[tuple[int, bool, bytes], ...]
    """Terminal chunks (seq, sent, whole lines) recorded since the last report."""
    progress: tuple[int, int, int] | None = None
    """The print's (acknowledged, offset, resends) while a feed runs."""
    z: tuple[float | None, bool] | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """A link's news: the events the printer must hear, in order, and its state after them."""

    link: int
    seq: int
    settled: FeedState | None
    failure: str
    telemetry: Telemetry
    events: tuple[LinkEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Logged:
    """A log record of the worker's, for the farm's log file (``text`` formatted, with any traceback)."""

    level: int
    logger: str
    text: str


Report = Opened | Closed | Update | Logged


# -- framing -----------------------------------------------------------------------------------------

def write(writer: asyncio.StreamWriter, message: Command | Report) -> None:
    """Queue one message (never blocks: the stream buffers what the socket does not take yet)."""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    writer.write(_LENGTH.pack(len(data)) + data)


async def read(reader: asyncio.StreamReader) -> Command | Report | None:
    """The next message, or None once the other end is gone."""
    try:
        (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        if length > MAX_MESSAGE:
            raise ValueError(f"a message of {length} bytes")
        message = pickle.loads(await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return message  # type: ignore[no-any-return]
