"""A G-code file as a stream of commands: checked before it starts, fed to the sender as room frees up."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from itertools import islice
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from farmctl.errors import FarmctlError
from farmctl.protocol import gcode
from farmctl.protocol.events import Acknowledged
from farmctl.protocol.sender import Sender

LOOKAHEAD = (4, 12)
"""Job lines kept queued in the sender beyond what is in flight, so the window never waits for the file:
topped up to the second number once fewer than the first wait (a burst every few lines, not one each)."""
READ_AHEAD = 64
"""Lines read from the file at a time: one burst of parsing every few dozen lines, not a little every line."""


@dataclass(frozen=True, slots=True)
class JobLine:
    """One thing to do: a command for the printer, or a host command (``@pause``) when ``host`` is set."""

    command: str
    end_offset: int          # byte offset just after this line in the file
    source_line: int          # 1-based line number in the file
    host: gcode.HostCommand | None = None


@dataclass(frozen=True, slots=True)
class JobSummary:
    path: Path
    size: int
    commands: int
    modified_ns: int = 0
    """The file's mtime when it was checked, if it did not change during the check (0: unknown)."""
    max_line_length: int = 0
    """The line length it was checked against."""

    def still_holds(self, max_line_length: int) -> bool:
        """The file is as it was when checked, against a limit no longer than ``max_line_length``: a
        print may start on this check instead of reading the whole file again."""
        if not self.modified_ns or not 0 < self.max_line_length <= max_line_length:
            return False
        try:
            stat = self.path.stat()
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.modified_ns)


@dataclass(slots=True)
class JobProgress:
    """What a progress display needs; updated as acknowledgements arrive."""

    path: Path
    size: int
    commands: int
    acknowledged: int = 0
    offset: int = 0
    started: float = field(default_factory=time.monotonic)
    resends: int = 0
    ended: float | None = None  # set at the print's single exit, whatever its outcome
    sd: bool = False  # the printer prints this file from its own SD card (``path`` is the card's name)

    @property
    def fraction(self) -> float:
        return self.offset / self.size if self.size else 1.0

    def elapsed(self, now: float) -> float:
        """Seconds printed: up to now while it runs, up to its end once ended."""
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)


def read_job(path: Path) -> Iterator[JobLine]:
    """The file's commands in order; comments and blank lines skipped."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            offset += len(raw)
            text = raw.decode("ascii", "replace")
            host = gcode.host_command(text)
            if host is not None:
                yield JobLine("", offset, number, host)
                continue
            command = gcode.clean(text, number)
            if command:
                yield JobLine(command, offset, number)


def _framed(lines: Iterator[JobLine], prefix: tuple[str, ...], suffix: tuple[str, ...],
            size: int) -> Iterator[JobLine]:
    try:
        yield from (JobLine(command, 0, 0) for command in prefix)
        yield from lines
        yield from (JobLine(command, size, 0) for command in suffix)
    finally:
        lines.close()  # type: ignore[attr-defined]


def check_job(path: Path, max_line_length: int) -> JobSummary:
    """Reject a file Marlin would mangle before a single line is sent; count its commands."""
    if not path.is_file():
        raise FarmctlError(f"{path}: no such file")
    before = path.stat()
    commands = 0
    try:
        for line in read_job(path):
            if line.host is None:
                try:
                    gcode.check_length(line.command, max_line_length)
                except gcode.GcodeError as exc:
                    raise gcode.GcodeError(str(exc), line.source_line) from None
                commands += 1
    except gcode.GcodeError as exc:
        raise FarmctlError(f"{path.name}: {exc}") from exc
    after = path.stat()
    unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    return JobSummary(path, after.st_size, commands, after.st_mtime_ns if unchanged else 0, max_line_length)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A print's feed as a printer asks for it: what a link needs to build the ``JobFeed``, here or in a worker."""

    summary: JobSummary
    max_line_length: int = gcode.MAX_LINE_LENGTH
    temperature_offsets: tuple[tuple[str, float], ...] = ()
    prefix: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()
    """Commands sent before and after the file's (M28 and M29 around an upload to the SD card)."""

    def feed(self, z: gcode.ZHeight) -> JobFeed:
        return JobFeed(self.summary, self.max_line_length, dict(self.temperature_offsets), z, self.prefix,
                       self.suffix)


class FeedState(Enum):
    FEEDING = "feeding"
    HELD = "held"    # at an @pause or a pause request: no more lines until released
    ENDED = "ended"  # the file is used up, or the print was cancelled
    FAILED = "failed"  # a line could no longer be read or sent (the file changed under the print)


class JobFeed:
    """One print's lines, handed to a sender as it makes room, and the progress their ``ok`` s make.

    The serial link's thread calls ``top_up`` and ``acknowledge`` on every read, so a print never
    waits for the event loop; the printer changes the state (hold, release, end) under the link's lock.
    """

    def __init__(self, summary: JobSummary, max_line_length: int = gcode.MAX_LINE_LENGTH,
                 temperature_offsets: dict[str, float] | None = None, z: gcode.ZHeight | None = None,
                 prefix: tuple[str, ...] = (), suffix: tuple[str, ...] = ()) -> None:
        """``prefix`` and ``suffix``: commands sent before and after the file's (M28 and M29 around an
        upload to the SD card)."""
        self.progress = JobProgress(summary.path, summary.size, summary.commands)
        self.state = FeedState.FEEDING
        self.z = z if z is not None else gcode.ZHeight()
        """The nozzle's Z, followed as the print's lines are acknowledged (the printer's own, carried on)."""
        self.temperature_offsets = dict(temperature_offsets or {})
        """OctoPrint's per-heater offsets, added to the file's M104/M109/M140/M190 targets as they are sent."""
        self.failure = ""
        """Why the feed FAILED: shown as the print's reason."""
        self._max_line_length = max_line_length
        self._lines = _framed(read_job(summary.path), prefix, suffix, summary.size)
        self._read: deque[JobLine] = deque()

    def top_up(self, sender: Sender) -> None:
        """Queue lines until the lookahead is full; stop at ``@pause`` (HELD) or the end of the file (ENDED)."""
        low, high = LOOKAHEAD
        if sender.pending >= low:
            return
        read = self._read
        while self.state is FeedState.FEEDING and sender.pending < high:
            if not read:
                try:
                    read.extend(islice(self._lines, READ_AHEAD))
                except (gcode.GcodeError, OSError, ValueError) as exc:  # checked before the start: it changed
                    self._fail(f"{self.progress.path.name} changed during the print: {exc}")
                    break
                if not read:
                    self.end()
                    break
            line = read.popleft()
            if line.host is None:
                command = line.command
                if self.temperature_offsets and command[:2] in ("M1", "m1"):
                    command = self._offset(command)
                try:
                    sender.submit(command, line)
                except gcode.GcodeError as exc:
                    self._fail(f"{self.progress.path.name} changed during the print: line {line.source_line}: {exc}")
            elif line.host.name == "pause":
                self.state = FeedState.HELD

    def acknowledge(self, event: Acknowledged, resends: int) -> bool:
        """Count the ``ok`` of one of this print's lines; False if the event belongs to something else."""
        line = event.tag
        if type(line) is not JobLine:
            return False
        progress = self.progress
        progress.acknowledged += 1
        progress.offset = line.end_offset
        progress.resends = resends
        self.z.follow(line.command)
        return True

    def _offset(self, command: str) -> str:
        shifted = gcode.with_temperature_offset(command, self.temperature_offsets)
        try:
            gcode.check_length(shifted, self._max_line_length)
        except gcode.GcodeError:
            return command  # a line at the length limit is sent as the file has it
        return shifted

    def hold(self) -> None:
        if self.state is FeedState.FEEDING:
            self.state = FeedState.HELD

    def release(self) -> None:
        if self.state is FeedState.HELD:
            self.state = FeedState.FEEDING

    def end(self) -> None:
        """No more lines: the file is closed and lines not yet queued are never read."""
        self.state = FeedState.ENDED
        self._lines.close()

    def _fail(self, reason: str) -> None:
        self.end()
        self.state = FeedState.FAILED
        self.failure = reason
