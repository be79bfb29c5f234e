"""Parse firmware reply lines into typed events.

Every line Marlin, Prusa-Firmware or a Marlin-like firmware prints becomes one or more frozen
dataclass events; nothing here does I/O. A line that matches nothing known is ``Unrecognized``:
on a noisy wire that is usually a corrupted ``ok``, and the sender treats it as such a hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor of a temperature report: ``T0``, ``B``, ``C``, ``P``… with its target if given."""

    sensor: str
    actual: float
    target: float | None


@dataclass(frozen=True, slots=True)
class Temperatures:
    """A temperature report (M105's ok line, an M155 autoreport, or M109/M190's wait lines)."""

    readings: tuple[Reading, ...]
    countdown: float | None = None  # W:<s> while heating; None when absent or "?"

    def get(self, sensor: str) -> Reading | None:
        return next((r for r in self.readings if r.sensor == sensor), None)

    def with_target(self, sensor: str, target: float) -> Temperatures:
        """This report with one sensor's target changed (the firmware took a new one since)."""
        return replace(self, readings=tuple(replace(r, target=target) if r.sensor == sensor else r
                                            for r in self.readings))


@dataclass(frozen=True, slots=True)
class Ok:
    """An ``ok``: one command left the queue. ADVANCED_OK adds the line and free buffer space."""

    line: int | None = None
    planner_free: int | None = None
    queue_free: int | None = None
    temperatures: Temperatures | None = None


@dataclass(frozen=True, slots=True)
class ResendRequest:
    line: int


class LineErrorKind(Enum):
    LINE_NUMBER = "Line Number is not Last Line Number+1"
    CHECKSUM_MISMATCH = "checksum mismatch"
    NO_CHECKSUM = "No Checksum with line number"
    NO_LINE_NUMBER = "No Line Number with checksum"


@dataclass(frozen=True, slots=True)
class LineError:
    """The firmware rejected a line; a ``Resend:`` follows."""

    kind: LineErrorKind
    last_line: int | None


@dataclass(frozen=True, slots=True)
class Busy:
    reason: str  # "processing", "paused for user", "paused for input"


@dataclass(frozen=True, slots=True)
class Wait:
    """NO_TIMEOUTS' idle line; not an ok."""


@dataclass(frozen=True, slots=True)
class Start:
    """The firmware (re)booted: numbering is back at 0 and any print in progress is lost."""


@dataclass(frozen=True, slots=True)
class Position:
    axes: dict[str, float] = field(hash=False)


@dataclass(frozen=True, slots=True)
class FirmwareInfo:
    """M115's first line: FIRMWARE_NAME, MACHINE_TYPE, EXTRUDER_COUNT, …"""

    fields: dict[str, str] = field(hash=False)

    @property
    def name(self) -> str:
        return self.fields.get("FIRMWARE_NAME", "")


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class HostAction:
    """``//action:<name> <args>``: pause, paused, resume, resumed, cancel, prompt_begin, …"""

    name: str
    argument: str


class SdEvent(Enum):
    PRINTING = "printing"
    NOT_PRINTING = "not printing"
    DONE = "done"
    LIST_BEGIN = "list begin"
    LIST_ENTRY = "list entry"  # one file of M20's list: name (8.3), total (size), long_name if given
    LIST_END = "list end"
    FILE_OPENED = "file opened"
    FILE_SELECTED = "file selected"
    OPEN_FAILED = "open failed"
    CARD_OK = "card ok"
    CARD_FAILED = "card failed"  # "SD init fail", "No SD card"
    WRITING = "writing"  # M28 opened a file for the host to write
    SAVED = "saved"  # M29 closed it
    DELETED = "deleted"
    DELETE_FAILED = "delete failed"


@dataclass(frozen=True, slots=True)
class SdStatus:
    event: SdEvent
    current: int | None = None
    total: int | None = None
    name: str | None = None
    long_name: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    command: str


@dataclass(frozen=True, slots=True)
class FatalError:
    """The firmware stopped (kill, halted, thermal protection): the print is over."""

    message: str


@dataclass(frozen=True, slots=True)
class FirmwareError:
    """A non-fatal ``Error:`` line that is not about line numbering."""

    message: str


@dataclass(frozen=True, slots=True)
class RxBufferFull:
    """Prusa-Firmware flushed its receive buffer: bytes were lost."""


@dataclass(frozen=True, slots=True)
class RxTimeout:
    """Prusa-Firmware discarded a partial line after 2 s."""


@dataclass(frozen=True, slots=True)
class Echo:
    text: str


@dataclass(frozen=True, slots=True)
class MeatPackState:
    """The firmware's answer to a MeatPack command (``[MP] PV01 ON ESP``): packing on, spaces kept."""

    active: bool
    no_spaces: bool


@dataclass(frozen=True, slots=True)
class Unrecognized:
    text: str


Reply = (
    Ok | ResendRequest | LineError | Busy | Wait | Start | Temperatures | Position | FirmwareInfo | Capability
    | HostAction | SdStatus | UnknownCommand | FatalError | FirmwareError | RxBufferFull | RxTimeout | Echo | MeatPackState | Unrecognized
)

_TEMPERATURE = re.compile(r"(?<![A-Za-z@])(T\d*|B|C|P|A|W|@\d*|B@):\s*(-?\d+(?:\.\d+)?|\?)(?:\s*/\s*(-?\d+(?:\.\d+)?))?")
_ADVANCED_OK = re.compile(r"\b([NPB])(\d+)\b")
_RESEND = re.compile(r"^(?:Resend|rs)\s*:?\s*N?(\d+)", re.IGNORECASE)
_LAST_LINE = re.compile(r"Last Line:\s*(-?\d+)")
_INFO_KEY = re.compile(r"(?:^|(?<=\s))([A-Z][A-Z_]+):")
_POSITION = re.compile(r"^X:-?\d")
_AXIS = re.compile(r"([XYZE]):(-?\d+(?:\.\d+)?)")
_SD_PRINTING = re.compile(r"SD printing byte (\d+)/(\d+)")
_MEATPACK = re.compile(r"^\[MP\] PV\d+ (ON|OFF) (ESP|NSP)$")
_FILE_OPENED = re.compile(r"File opened:\s*(.*?)\s+Size:\s*(\d+)")
_LIST_ENTRY = re.compile(r"^(\S+\.(?:GCO|GCODE|G|GC|GCD|GGO|NC))\s+(\d+)(?:\s+(.+?))?\s*$", re.IGNORECASE)
_SD_NAMED = (("open failed, File:", SdEvent.OPEN_FAILED), ("Writing to file:", SdEvent.WRITING),
             ("File deleted:", SdEvent.DELETED), ("Deletion failed, File:", SdEvent.DELETE_FAILED))
_SD_ECHO = {"SD card ok": SdEvent.CARD_OK, "SD init fail": SdEvent.CARD_FAILED, "No SD card": SdEvent.CARD_FAILED}
_FATAL_MARKERS = ("kill() called", "Printer halted", "Printer stopped", "MAXTEMP", "MINTEMP", "Thermal Runaway",
                  "Heating failed", "thermal runaway", "Heating error")


def parse_temperatures(text: str) -> Temperatures | None:
    """The sensors of a report; None if the text holds no ``T:`` or ``B:`` reading."""
    readings: list[Reading] = []
    countdown: float | None = None
    for sensor, actual, target in _TEMPERATURE.findall(text):
        if sensor == "W":
            countdown = None if actual == "?" else float(actual)
        elif sensor.startswith("@") or sensor in ("B@", "A") or actual == "?":
            continue
        else:
            readings.append(Reading(sensor, float(actual), float(target) if target else None))
    if not any(r.sensor.startswith("T") or r.sensor == "B" for r in readings):
        return None
    return Temperatures(tuple(readings), countdown)


def parse_firmware_info(text: str) -> FirmwareInfo:
    """``KEY:value KEY:value``; values may hold spaces (``MACHINE_TYPE:Prusa i3 MK3S``)."""
    matches = list(_INFO_KEY.finditer(text))
    fields = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields[match.group(1)] = text[match.end():end].strip()
    return FirmwareInfo(fields)


def _parse_ok(rest: str) -> list[Reply]:
    temperatures = parse_temperatures(rest) if ":" in rest else None
    if temperatures is not None:
        return [Ok(temperatures=temperatures)]
    if "FIRMWARE_NAME:" in rest:
        return [Ok(), parse_firmware_info(rest[rest.index("FIRMWARE_NAME:"):])]
    values = dict(_ADVANCED_OK.findall(rest))
    def number(key: str) -> int | None:
        return int(values[key]) if key in values else None
    return [Ok(number("N"), number("P"), number("B"))]


def _parse_error(message: str) -> Reply:
    for kind in LineErrorKind:
        if message.startswith(kind.value):
            last = _LAST_LINE.search(message)
            return LineError(kind, int(last.group(1)) if last else None)
    if any(marker in message for marker in _FATAL_MARKERS):
        return FatalError(message)
    return FirmwareError(message)


def _parse_capabilities(text: str) -> list[Reply]:
    replies: list[Reply] = []
    for chunk in text.split("Cap:")[1:]:
        name, _, value = chunk.strip().partition(":")
        replies.append(Capability(name.strip().upper(), value.strip()[:1] == "1"))
    return replies


def _parse_echo(text: str) -> Reply:
    if text.startswith("busy:"):
        return Busy(text[5:].strip())
    if text in _SD_ECHO:
        return SdStatus(_SD_ECHO[text])
    if text.startswith("Unknown command:"):
        return UnknownCommand(text[len("Unknown command:"):].strip().strip('"'))
    return Echo(text)


def _parse_sd(line: str) -> Reply | None:
    if match := _SD_PRINTING.match(line):
        return SdStatus(SdEvent.PRINTING, int(match.group(1)), int(match.group(2)))
    if match := _FILE_OPENED.match(line):
        return SdStatus(SdEvent.FILE_OPENED, total=int(match.group(2)), name=match.group(1))
    if match := _LIST_ENTRY.match(line):
        return SdStatus(SdEvent.LIST_ENTRY, total=int(match.group(2)), name=match.group(1), long_name=match.group(3))
    for prefix, named in _SD_NAMED:
        if line.startswith(prefix):
            return SdStatus(named, name=line[len(prefix):].strip().rstrip("."))
    fixed = {"Not SD printing": SdEvent.NOT_PRINTING, "Done printing file": SdEvent.DONE, "Done saving file.": SdEvent.SAVED,
             "Begin file list": SdEvent.LIST_BEGIN, "End file list": SdEvent.LIST_END, "File selected": SdEvent.FILE_SELECTED}
    event = fixed.get(line)
    return SdStatus(event) if event else None


PLAIN_OK = Ok()
"""The reply a streaming host sees hundreds of times a second, parsed once."""


def parse_reply(raw: bytes | str) -> list[Reply]:
    """Every event one reply line carries (usually one; ``ok T:…`` is one Ok with temperatures)."""
    if raw == b"ok" or raw == b"ok\r":
        return [PLAIN_OK]
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            return [Unrecognized(raw.decode("ascii", "replace").strip())]
    line = raw.strip()
    if not line:
        return []
    if line == "ok" or line.startswith("ok "):
        return _parse_ok(line[3:])
    if match := _RESEND.match(line):
        return [ResendRequest(int(match.group(1)))]
    if line.startswith("Error:"):
        return [_parse_error(line[6:].strip())]
    if line.startswith("!!"):
        return [FatalError(line[2:].strip())]
    if line.startswith("echo:"):
        return [_parse_echo(line[5:].strip())]
    if line.startswith("//"):
        body = line[2:].strip()
        if body.startswith("action:"):
            name, _, argument = body[7:].strip().partition(" ")
            return [HostAction(name, argument.strip())]
        return [Echo(body)]
    if line == "start":
        return [Start()]
    if line == "wait":
        return [Wait()]
    if line.startswith("FIRMWARE_NAME:"):
        head, glued, tail = line.partition("Cap:")
        return [parse_firmware_info(head), *(_parse_capabilities(glued + tail) if glued else [])]
    if line.startswith("Cap:"):
        return _parse_capabilities(line)
    if match := _MEATPACK.match(line):
        return [MeatPackState(match.group(1) == "ON", match.group(2) == "NSP")]
    if line in ("Full RX Buffer",):
        return [RxBufferFull()]
    if line in ("RX timeout",):
        return [RxTimeout()]
    if _POSITION.match(line) and "Count" in line:
        return [Position({axis: float(value) for axis, value in _AXIS.findall(line.split("Count")[0])})]
    if temperatures := parse_temperatures(line) if ":" in line else None:
        return [temperatures]
    if sd := _parse_sd(line):
        return [sd]
    return [Unrecognized(line)]
