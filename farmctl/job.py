"""A G-code file as a stream of commands with the byte position of each, checked before it starts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from farmctl.errors import FarmctlError
from farmctl.protocol import gcode


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


def check_job(path: Path, max_line_length: int) -> JobSummary:
    """Reject a file Marlin would mangle before a single line is sent; count its commands."""
    if not path.is_file():
        raise FarmctlError(f"{path}: no such file")
    commands = 0
    try:
        for line in read_job(path):
            if line.host is None:
                try:
                    gcode.encode(10_000_000, line.command, max_line_length)
                except gcode.GcodeError as exc:
                    raise gcode.GcodeError(str(exc), line.source_line) from None
                commands += 1
    except gcode.GcodeError as exc:
        raise FarmctlError(f"{path.name}: {exc}") from exc
    return JobSummary(path, path.stat().st_size, commands)
