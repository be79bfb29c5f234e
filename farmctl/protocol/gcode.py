"""Turn G-code text into the numbered, checksummed lines Marlin accepts.

Marlin truncates lines longer than its command buffer (losing the ``*cs`` and causing endless
resends) and treats ``;`` as the start of a comment even inside a checksummed line, so every
command is cleaned and checked here, before a print starts, rather than discovered mid-print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE_LENGTH = 95
"""Significant characters Marlin keeps of a line (MAX_CMD_SIZE 96 minus the terminator)."""

_PAREN_COMMENT = re.compile(r"\([^)]*\)")
_EMERGENCY = frozenset({"M108", "M112", "M410", "M524", "M876"})
_MOVES = frozenset({"G0 ", "G1 ", "G2 ", "G3 "})
_LONG_RUNNING = frozenset({"G28", "G29", "G30", "G33", "G34", "M109", "M190", "M191", "M303", "M400", "M600", "M0", "M1"})


class GcodeError(ValueError):
    """A line Marlin would mangle; raised before anything is sent."""

    def __init__(self, message: str, line_number: int | None = None) -> None:
        where = f"line {line_number}: " if line_number is not None else ""
        super().__init__(f"{where}{message}")
        self.line_number = line_number


def checksum(payload: bytes) -> int:
    """XOR of every byte, as Marlin computes it over ``N<n> <cmd>``."""
    value = 0
    for byte in payload:
        value ^= byte
    return value


def clean(text: str, line_number: int | None = None) -> str:
    """Strip comments and surrounding blanks; reject what Marlin would mangle.

    Returns the empty string for blank or comment-only lines: those get no ``ok`` from Marlin
    and must never be sent.
    """
    command = text.split(";", 1)[0]
    if "(" in command:
        command = _PAREN_COMMENT.sub("", command)
    command = command.strip()
    if not command:
        return ""
    if "*" in command:
        raise GcodeError("'*' is reserved for the checksum", line_number)
    if "\\" in command:
        raise GcodeError("'\\' is an escape character in Marlin", line_number)
    if not (command.isascii() and command.isprintable()):
        bad = next(char for char in command if not (" " <= char <= "~"))
        raise GcodeError(f"character {bad!r} cannot be sent to Marlin", line_number)
    return command


def encode(number: int, command: str, max_length: int = MAX_LINE_LENGTH) -> bytes:
    """``N<n> <cmd>*<cs>\\n``; raises GcodeError if Marlin would truncate it."""
    payload = f"N{number} {command}".encode("ascii")
    line = payload + b"*%d" % checksum(payload)
    if len(line) > max_length:
        raise GcodeError(f"{len(line)} characters with line number and checksum; the firmware keeps {max_length}")
    return line + b"\n"


LONGEST_LINE_NUMBER = 10_000_000
"""The line number a command is checked with: any file of fewer lines fits if it fits with this one."""
_FRAME = len(f"N{LONGEST_LINE_NUMBER} *255")  # the most a line number and checksum add


def check_length(command: str, max_length: int = MAX_LINE_LENGTH) -> None:
    """Raise GcodeError if the command, numbered and checksummed, would be truncated by the firmware."""
    if len(command) + _FRAME > max_length:  # else it surely fits
        encode(LONGEST_LINE_NUMBER, command, max_length)


def command_code(command: str) -> str:
    """The command word of a cleaned command: ``G1``, ``M109``, ``T0`` (upper case)."""
    word = command.split(None, 1)[0].upper()
    if word[:1] in "GM" and not word[1:].isdigit():
        match = re.match(r"[GM]\d+", word)
        return match.group(0) if match else word
    return word


def is_emergency(command: str) -> bool:
    """Commands Marlin's emergency parser acts on as soon as the bytes arrive (M876 only as an answer, S<n>)."""
    code = command_code(command)
    if code == "M876":
        return "S" in command.upper()
    return code in _EMERGENCY


def is_long_running(command: str) -> bool:
    """Commands whose ``ok`` comes only after they finish, possibly minutes later."""
    if command[:3] in _MOVES:
        return False  # nearly every line of a print: asked once per line sent, so answered first
    return command_code(command) in _LONG_RUNNING


@dataclass(frozen=True, slots=True)
class HostCommand:
    """An ``@`` line in a G-code file: addressed to the host, never sent to the printer."""

    name: str
    argument: str


def host_command(text: str) -> HostCommand | None:
    """``@pause`` and friends; OctoPrint's convention for commands meant for the host."""
    stripped = text.strip()
    if not stripped.startswith("@"):
        return None
    name, _, argument = stripped[1:].partition(" ")
    return HostCommand(name.lower(), argument.strip())


# -- what a command does, as far as a host shows it ------------------------------------------------

_WORD_VALUE = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_HEATERS = {"M104": "tool", "M109": "tool", "M140": "bed", "M190": "bed"}


def words(command: str) -> dict[str, float]:
    """The letter parameters of a cleaned command: ``G1 X10 Z0.2`` gives {"G": 1, "X": 10, "Z": 0.2}."""
    return {letter: float(value) for letter, value in _WORD_VALUE.findall(command.upper())}


@dataclass(slots=True)
class ZHeight:
    """The nozzle's Z as the commands sent so far leave it (OctoPrint's ``currentZ``); None until known."""

    z: float | None = None
    relative: bool = False

    def forget(self) -> None:
        self.z, self.relative = None, False

    def follow(self, command: str) -> None:
        if not ("Z" in command or "z" in command or command[:2] in ("G9", "g9") or command[:3] in ("G28", "g28")):
            return  # most lines: a move in X/Y, cheaply passed over
        code = command_code(command)
        if code == "G90":
            self.relative = False
        elif code == "G91":
            self.relative = True
        elif "Z" in command.upper() and code in ("G0", "G1", "G92", "G28"):
            value = words(command).get("Z")
            if code == "G28":
                self.z = 0.0
            elif value is None:
                return
            elif self.relative and code != "G92":
                self.z = (self.z or 0.0) + value
            else:
                self.z = value
        elif code == "G28" and len(command.split()) == 1:
            self.z = 0.0  # a bare G28 homes every axis


def heater_target(command: str) -> tuple[str, float] | None:
    """The heater a command sets and its new target: ("tool0", 210.0) for ``M104 S210``, ("bed", 60.0)
    for ``M190 R60``; None for any other command. A tool is the command's T, else tool0."""
    kind = _HEATERS.get(command_code(command))
    if kind is None:
        return None
    parameters = words(command)
    target = parameters.get("S", parameters.get("R"))
    if target is None:
        return None
    return ("bed" if kind == "bed" else f"tool{int(parameters.get('T', 0))}"), target


def with_temperature_offset(command: str, offsets: dict[str, float]) -> str:
    """M104/M109/M140/M190 with OctoPrint's per-heater offset added to S (a target of 0 stays off).

    ``offsets`` maps "tool0", "tool1", ... and "bed" to degrees; a tool is the command's T, else tool0.
    """
    kind = _HEATERS.get(command_code(command))
    if kind is None:
        return command
    parameters = words(command)
    key = "bed" if kind == "bed" else f"tool{int(parameters.get('T', 0))}"
    offset = offsets.get(key, 0.0)
    target = parameters.get("S")
    if not offset or not target:
        return command
    shifted = max(0.0, target + offset)
    text = f"{shifted:.0f}" if shifted.is_integer() else f"{shifted:.1f}"
    return re.sub(r"([Ss])\s*[-+]?(?:\d+\.?\d*|\.\d+)", lambda m: m.group(1) + text, command, count=1)
