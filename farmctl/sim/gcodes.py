"""The commands the simulated firmware understands, one thin handler each.

A handler gets the firmware, the accepted line and the time; it returns ``Reply.OK`` (ack now),
``Reply.SILENT`` (it printed its own ok or none is due) or a ``Wait`` that holds the queue and
acks when it ends.  Anything not in ``HANDLERS`` is answered ``echo:Unknown command``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from farmctl.sim.identity import Family
from farmctl.sim.outcome import Reply, Wait, WaitKind, command_code
from farmctl.sim.parser import Accepted

if TYPE_CHECKING:
    from farmctl.sim.firmware import MarlinFirmware
    from farmctl.sim.physics import Heater

Handler = Callable[["MarlinFirmware", Accepted, float], "Wait | Reply"]

_PARAM = re.compile(r"([A-Za-z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")


def params(command: str) -> dict[str, float]:
    """Parameter letters after the command word; a letter with no number reads as 0."""
    rest = command.split(None, 1)[1] if " " in command.strip() else command[len(command_code(command)):]
    return {m.group(1).upper(): float(m.group(2)) if m.group(2) else 0.0 for m in _PARAM.finditer(rest)}


def _text(command: str) -> str:
    """The free-text argument of M117/M118."""
    parts = command.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


# -- motion -------------------------------------------------------------------------------------

def _move(fw: MarlinFirmware, line: Accepted, now: float) -> Wait | Reply:
    code = command_code(line.command)
    length = fw.motion.move(params(line.command), arc=code in ("G2", "G3"))
    if length == 0.0:
        return Reply.OK
    duration = fw.wall(length / (fw.motion.feedrate / 60.0))

    def enter(at: float) -> Reply:
        fw.planner.add(at, duration)
        fw.stats.moves += 1
        return Reply.OK

    free_at = fw.planner.slot_free_at(now)
    if free_at <= now:
        return enter(now)
    return Wait(WaitKind.PLANNER, free_at, then=enter)


def _after_moves(fw: MarlinFirmware, now: float, seconds: float, then: Callable[[float], Reply] | None = None) -> Wait:
    """Commands that first wait for the planner to empty (planner.synchronize()), then take time."""
    return Wait(WaitKind.TIMED, fw.planner.last_end(now) + fw.wall(seconds), then=then)


def _home(fw: MarlinFirmware, line: Accepted, now: float) -> Wait:
    given = [axis for axis in "XYZ" if axis in params(line.command)] or list("XYZ")

    def homed(at: float) -> Reply:
        fw.motion.set_position(dict.fromkeys(given, 0.0))
        return Reply.OK

    return _after_moves(fw, now, fw.physics.home_time, homed)


def _level(fw: MarlinFirmware, line: Accepted, now: float) -> Wait:
    return _after_moves(fw, now, fw.physics.level_time)


def _dwell(fw: MarlinFirmware, line: Accepted, now: float) -> Wait:
    p = params(line.command)
    seconds = p.get("S", 0.0) + p.get("P", 0.0) / 1000.0
    return _after_moves(fw, now, seconds)


def _sync(fw: MarlinFirmware, line: Accepted, now: float) -> Wait:
    return Wait(WaitKind.SYNC, fw.planner.last_end(now))


def _modal(setting: str, value: bool) -> Handler:
    def handler(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
        setattr(fw.motion, setting, value)
        return Reply.OK
    return handler


def _set_position(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    fw.motion.set_position(params(line.command) or dict.fromkeys("XYZE", 0.0))
    return Reply.OK


def _report_position(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    fw.emit(fw.motion.report(fw.physics.steps_per_mm), now)
    return Reply.OK


# -- temperature --------------------------------------------------------------------------------

def _set_target(which: str) -> Handler:
    def handler(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
        p = params(line.command)
        if "S" in p:
            heater: Heater = getattr(fw, which)
            fw.update_heaters(now)
            heater.target = max(0.0, p["S"])
        return Reply.OK
    return handler


def _wait_target(which: str, residency: str) -> Handler:
    def handler(fw: MarlinFirmware, line: Accepted, now: float) -> Wait | Reply:
        p = params(line.command)
        heater: Heater = getattr(fw, which)
        fw.update_heaters(now)
        if "S" in p or "R" in p:
            heater.target = max(0.0, p.get("S", p.get("R", 0.0)))
        if heater.target <= 0 or ("S" in p and heater.temp > heater.target):
            return Reply.OK  # M109 S only waits for heating up
        dwell = getattr(fw.physics, residency)
        seconds = heater.seconds_to(heater.target, fw.physics.temp_window)
        if seconds == math.inf:
            return Reply.OK
        return Wait(WaitKind.HEAT, now + fw.wall(seconds + dwell), heater=heater, residency=dwell)
    return handler


def _report_temperatures(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    fw.update_heaters(now)
    fw.emit("ok " + fw.temperatures(), now)
    return Reply.SILENT


def _autoreport(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    if not fw.identity.has("AUTOREPORT_TEMP"):
        fw.emit(f'echo:Unknown command: "{line.command}"', now)
        return Reply.OK
    fw.set_autoreport(params(line.command).get("S", 0.0), now)
    return Reply.OK


# -- host protocol ------------------------------------------------------------------------------

def _line_number(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    p = params(line.command)
    if "N" in p:
        fw.last_n = int(p["N"])
    return Reply.OK


def _firmware_info(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    for text in fw.identity.m115():
        fw.emit(text, now)
    return Reply.OK


def _kill(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    fw.kill(now)
    return Reply.SILENT


def _quick_stop(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    fw.quick_stop(now)
    return Reply.OK


def _prompt_answer(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    if fw.identity.has("EMERGENCY_PARSER"):
        return Reply.OK  # already acted on when the bytes arrived
    p = params(line.command)
    if "S" in p:
        fw.prompt_responses.append(int(p["S"]))
    return Reply.OK


def _keepalive_interval(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    p = params(line.command)
    fw.keepalive = p.get("S", fw.profile.keepalive)
    return Reply.OK


def _restart(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    """M999: ``Resend: N`` + ``ok`` and then its own ``ok``."""
    fw.request_resend(now)
    return Reply.OK


def _sd_status(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    """M27: the position now, or ``M27 S<n>`` (AUTOREPORT_SD_STATUS) every n seconds."""
    p = params(line.command)
    if "S" in p and fw.identity.has("AUTOREPORT_SD_STATUS"):
        fw.set_sd_autoreport(p["S"], now)
        return Reply.OK
    fw.emit(fw.sd_status(), now)
    return Reply.OK


def _argument(command: str) -> str:
    """The file name after M23/M28/M30 (Marlin takes the rest of the line)."""
    parts = command.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def _card(handler: Handler) -> Handler:
    """SD commands: unknown without SDSUPPORT, "No SD card" when none is mounted (M21 mounts it)."""
    def guarded(fw: MarlinFirmware, line: Accepted, now: float) -> Wait | Reply:
        if fw.sd is None:
            fw.emit(f'echo:Unknown command: "{line.command}"', now)
            return Reply.OK
        if not fw.sd.mounted and command_code(line.command) not in ("M21", "M22"):
            fw.emit("echo:No SD card", now)
            return Reply.OK
        return handler(fw, line, now)
    return guarded


def _sd_init(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    assert fw.sd is not None
    fw.sd.mounted = fw.sd.inserted
    fw.emit("echo:SD card ok" if fw.sd.mounted else "echo:SD init fail", now)
    return Reply.OK


def _sd_release(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    assert fw.sd is not None
    fw.sd.close()
    fw.sd.mounted = False
    fw.emit("echo:SD card released", now)
    return Reply.OK


def _sd_list(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    """M20: ``NAME.GCO <size>``; with ``L`` (LONG_FILENAME / Prusa's EXTENDED_M20) the long name too."""
    assert fw.sd is not None
    long_names = "L" in params(line.command) and (fw.identity.has("LONG_FILENAME") or fw.identity.has("EXTENDED_M20"))
    fw.emit("Begin file list", now)
    for short, file in fw.sd.files.items():
        fw.emit(f"{short} {len(file.data)}" + (f" {file.long_name}" if long_names else ""), now)
    fw.emit("End file list", now)
    return Reply.OK


def _sd_select(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    sd = fw.sd
    assert sd is not None
    name = _argument(line.command)
    found = sd.find(name)
    if found is None:
        fw.emit(f"open failed, File: {name}.", now)
        return Reply.OK
    sd.close()
    sd.open_name = found
    fw.emit(f"File opened: {found} Size: {sd.size}", now)
    fw.emit("File selected", now)
    return Reply.OK


def _sd_start(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    """M24: start or resume the selected file."""
    sd = fw.sd
    assert sd is not None
    if sd.open_name is not None:
        sd.printing = True
    return Reply.OK


def _sd_pause(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    assert fw.sd is not None
    fw.sd.printing = False
    return Reply.OK


def _sd_position(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    sd = fw.sd
    assert sd is not None
    if sd.open_name is not None:
        sd.position = int(params(line.command).get("S", 0.0))
    return Reply.OK


def _sd_abort(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    """M524: abort the SD print (Marlin 2)."""
    if fw.identity.family is not Family.MARLIN2:
        fw.emit(f'echo:Unknown command: "{line.command}"', now)
        return Reply.OK
    if fw.sd is not None and fw.sd.open_name is not None:
        fw.stop_sd_print()
    return Reply.OK


def _sd_write_begin(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    sd = fw.sd
    assert sd is not None
    name = _argument(line.command)
    if not name:
        fw.emit("open failed, File: .", now)
        return Reply.OK
    short = sd.add(name)
    sd.files[short].data.clear()
    sd.writing = short
    fw.emit(f"Writing to file: {short}", now)
    return Reply.OK


def _sd_write_end(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    sd = fw.sd
    assert sd is not None
    if sd.writing is not None:
        sd.writing = None
        fw.emit("Done saving file.", now)
    return Reply.OK


def _sd_delete(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    sd = fw.sd
    assert sd is not None
    name = _argument(line.command)
    found = sd.find(name)
    if found is None or found == sd.open_name:
        fw.emit(f"Deletion failed, File: {name}.", now)
    else:
        del sd.files[found]
        fw.emit(f"File deleted:{found}", now)
    return Reply.OK


def _echo(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    text = re.sub(r"^(?:[AEP]\d+\s*)+", "", _text(line.command))
    fw.emit("echo:" + text, now)
    return Reply.OK


def _tool(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    code = command_code(line.command)
    if code != "T0":
        fw.emit(f"echo:Invalid extruder {code[1:]}", now)
    return Reply.OK


def _prusa_only(handler: Handler) -> Handler:
    def guarded(fw: MarlinFirmware, line: Accepted, now: float) -> Wait | Reply:
        if fw.identity.family is not Family.PRUSA:
            fw.emit(f'echo:Unknown command: "{line.command}"', now)
            return Reply.OK
        return handler(fw, line, now)
    return guarded


def _nothing(fw: MarlinFirmware, line: Accepted, now: float) -> Reply:
    return Reply.OK


_ACCEPTED_AND_IGNORED = (
    "G21 M17 M18 M84 M106 M107 M75 M76 M77 M80 M81 M117 M120 M121 M201 M203 M204 M205 M206 "
    "M207 M208 M209 M220 M221 M290 M300 M500 M501 M502 M503 M851 M900 M907 M108"
).split()
_PRUSA_IGNORED = "M73 M862.1 M862.2 M862.3 M862.4 M862.5 M862.6 M115.1".split()

HANDLERS: dict[str, Handler] = {code: _nothing for code in _ACCEPTED_AND_IGNORED}
HANDLERS.update({code: _prusa_only(_nothing) for code in _PRUSA_IGNORED})
HANDLERS.update({
    "G0": _move, "G1": _move, "G2": _move, "G3": _move,
    "G4": _dwell, "G28": _home, "G29": _level, "G80": _prusa_only(_level),
    "G20": _modal("inches", True), "G21": _modal("inches", False),
    "G90": _modal("absolute", True), "G91": _modal("absolute", False),
    "M82": _modal("relative_e", False), "M83": _modal("relative_e", True),
    "G92": _set_position, "M114": _report_position, "M400": _sync,
    "M104": _set_target("hotend"), "M140": _set_target("bed"),
    "M109": _wait_target("hotend", "hotend_residency"), "M190": _wait_target("bed", "bed_residency"),
    "M105": _report_temperatures, "M155": _autoreport,
    "M110": _line_number, "M115": _firmware_info, "M112": _kill, "M410": _quick_stop,
    "M876": _prompt_answer, "M113": _keepalive_interval, "M999": _restart, "M27": _card(_sd_status),
    "M20": _card(_sd_list), "M21": _card(_sd_init), "M22": _card(_sd_release), "M23": _card(_sd_select),
    "M24": _card(_sd_start), "M25": _card(_sd_pause), "M26": _card(_sd_position), "M524": _card(_sd_abort),
    "M28": _card(_sd_write_begin), "M29": _card(_sd_write_end), "M30": _card(_sd_delete),
    "M118": _echo, "T0": _tool, "T1": _tool, "T2": _tool, "T3": _tool,
})
