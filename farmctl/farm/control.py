"""What a person does to one printer: pause, resume, cancel, jog, home, extrude, heat, fan, motors
off, emergency stop, connect, disconnect, answer a prompt, send G-code.

One piece of code for every client: the OctoPrint routes, the dashboard's own API and its bulk
actions all call these, so a jog from OctoPrint's API and a jog from the farm view are the same
G-code with the same checks. Every change to the printer is G-code through ``Printer.command``
(after ``Printer.sendable``), except pause, resume and cancel, which steer the print's feed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from farmctl.errors import FarmctlError
from farmctl.printer import PrinterState

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm, FarmPrinter

log = logging.getLogger(__name__)

_S = PrinterState
BUSY = frozenset({_S.STARTING, _S.PRINTING, _S.PAUSING, _S.PAUSED, _S.CANCELLING})
OPERATIONAL = BUSY | {_S.OPERATIONAL}
COMMAND_WAIT = 5.0
"""Seconds a caller waits for its commands' acknowledgements before going on anyway (M109, G28...)."""
MAX_TEMPERATURE = 400.0
EMERGENCY_STOP = "M112"
MOTORS_OFF = "M18"

_running: set[asyncio.Task[None]] = set()


def require_operational(entry: FarmPrinter) -> None:
    if entry.printer.state not in OPERATIONAL:
        raise FarmctlError("Printer is not operational", 409)


def not_while_printing(entry: FarmPrinter, what: str) -> None:
    require_operational(entry)
    if entry.printer.state in BUSY:
        raise FarmctlError(f"cannot {what} while the printer is {entry.printer.state.value.lower()}", 409)


def checked(entry: FarmPrinter, commands: Sequence[Any]) -> list[str]:
    """The commands as they will be sent (comments dropped); 400 for one the firmware would mangle."""
    cleaned = []
    for text in commands:
        if not isinstance(text, str):
            raise FarmctlError(f"a command must be text, not {text!r}")
        if command := entry.printer.sendable(text):
            cleaned.append(command)
    return cleaned


async def send(entry: FarmPrinter, commands: Sequence[Any]) -> None:
    """Send commands in order. Waits a few seconds for their acknowledgements; a slow one (M109,
    G28) keeps running after the caller goes on, as in OctoPrint, where commands are queued."""
    require_operational(entry)
    cleaned = checked(entry, commands)
    if not cleaned:
        return

    async def run() -> None:
        for command in cleaned:
            await entry.printer.command(command)

    task = asyncio.create_task(run(), name=f"commands for {entry.name}")
    _running.add(task)
    task.add_done_callback(_command_done)
    done, _ = await asyncio.wait({task}, timeout=COMMAND_WAIT)
    if task in done:
        task.result()


def _command_done(task: asyncio.Task[None]) -> None:
    _running.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("%s: %s", task.get_name(), getattr(exc, "message", exc))


# -- the print ---------------------------------------------------------------------------------

# The printer owns the preconditions (409 with no print); these are here so every client says the same.

def pause(entry: FarmPrinter) -> None:
    entry.printer.pause()


def resume(entry: FarmPrinter) -> None:
    """Resume a paused print, or let an event script's ``@pause`` go on (the bed was cleared)."""
    entry.printer.resume()


def cancel(entry: FarmPrinter) -> None:
    """Cancel the print, or call off one whose file is still being checked."""
    entry.printer.cancel()


async def print_upload(farm: Farm, entry: FarmPrinter, relative: str) -> None:
    """Select an upload and print it now, outside the queue, as OctoPrint's "print" does; 409 when
    the printer is not ready, 404 when the file is gone."""
    _may_print(entry)
    await farm.shared_uploads.ensure(relative)  # a file another node holds is fetched, checked by hash
    path = await farm.uploads.local_path(relative)
    entry.select(relative)
    await farm.start_print(entry, path)


async def print_sd_file(farm: Farm, entry: FarmPrinter, name: str) -> None:
    """Select a file of the printer's SD card and print it now, outside the queue; 409 when the printer
    is not ready, 404 when the card does not have the file. Returns once the print is under way."""
    _may_print(entry)
    await farm.start_sd_print(entry, name)


async def print_selected(farm: Farm, entry: FarmPrinter) -> None:
    """OctoPrint's job start: print the file selected for this printer, an upload or one on its card;
    409 when nothing is selected or the printer is not ready."""
    if entry.selected_sd is not None:
        await print_sd_file(farm, entry, entry.selected_sd)
    elif entry.selected is not None:
        await print_upload(farm, entry, entry.selected)
    else:
        raise FarmctlError("no file is selected for printing", 409)


def _may_print(entry: FarmPrinter) -> None:
    entry.printer.check_ready()
    if entry.maintenance is not None:
        raise FarmctlError(f"{entry.name} is in maintenance ({entry.maintenance}); end it first", 409)


# -- motion, heaters, fan ----------------------------------------------------------------------

def jog_commands(moves: dict[str, float], speed: float | None, absolute: bool) -> list[str]:
    if not moves:
        raise FarmctlError("jog needs at least one of x, y, z")
    feed = f" F{speed:g}" if speed else ""
    move = "G0 " + " ".join(f"{axis.upper()}{distance:g}" for axis, distance in moves.items()) + feed
    return ["G90", move] if absolute else ["G91", move, "G90"]


async def jog(entry: FarmPrinter, moves: dict[str, float], speed: float | None = None,
              absolute: bool = False) -> None:
    """Move the head by (or, ``absolute``, to) ``moves`` = {"x": mm, "z": mm, ...}."""
    commands = jog_commands(moves, speed, absolute)
    not_while_printing(entry, "jog")
    await send(entry, commands)


async def home(entry: FarmPrinter, axes: Sequence[str]) -> None:
    if not axes or any(a not in ("x", "y", "z") for a in axes):
        raise FarmctlError("home needs axes, a list of \"x\", \"y\" and \"z\"")
    not_while_printing(entry, "home")
    await send(entry, ["G28 " + " ".join(a.upper() for a in ("x", "y", "z") if a in axes)])


async def extrude(entry: FarmPrinter, amount: float, speed: float = 300.0) -> None:
    """Push (or, negative, pull) ``amount`` mm of filament; the firmware refuses a cold extrusion itself."""
    not_while_printing(entry, "extrude")
    await send(entry, ["G91", f"G1 E{amount:g} F{speed:g}", "G90"])


def heater_names(entry: FarmPrinter) -> list[str]:
    """The heaters clients address: tool0, tool1, ... and the bed when it is heated."""
    tools = [f"tool{n}" for n in range(entry.config.extruders)]
    return tools + ["bed"] if entry.config.bed.heated else tools


def target_commands(entry: FarmPrinter, targets: dict[str, float]) -> list[str]:
    """M104/M140 for ``{"tool0": 210, "bed": 60}``; 400 for a heater this printer lacks."""
    known = heater_names(entry)
    single = entry.config.extruders == 1
    commands = []
    for heater, degrees in targets.items():
        if heater not in known:
            raise FarmctlError(f"unknown heater {heater!r}; this printer has {', '.join(known)}")
        if not 0 <= degrees <= MAX_TEMPERATURE:
            raise FarmctlError(f"{heater} target must be between 0 and {MAX_TEMPERATURE:g} °C, not {degrees:g}")
        if heater == "bed":
            commands.append(f"M140 S{degrees:g}")
        else:
            tool = int(heater[4:])
            commands.append(f"M104 S{degrees:g}" if single else f"M104 T{tool} S{degrees:g}")
    return commands


async def set_targets(entry: FarmPrinter, targets: dict[str, float]) -> None:
    await send(entry, target_commands(entry, targets))


async def cool_down(entry: FarmPrinter) -> None:
    await set_targets(entry, {heater: 0.0 for heater in heater_names(entry)})


async def fan(entry: FarmPrinter, percent: float) -> None:
    if not 0 <= percent <= 100:
        raise FarmctlError(f"fan speed must be between 0 and 100 %, not {percent:g}")
    await send(entry, [f"M106 S{round(percent * 2.55)}" if percent else "M107"])


async def motors_off(entry: FarmPrinter) -> None:
    not_while_printing(entry, "turn the motors off")
    await send(entry, [MOTORS_OFF])


async def emergency_stop(entry: FarmPrinter) -> None:
    """M112: the firmware kills heaters and motors and halts (through its emergency parser when it
    has one); a print in progress fails. The printer must be reset to be used again."""
    require_operational(entry)
    try:
        await entry.printer.command(EMERGENCY_STOP, timeout=COMMAND_WAIT)
    except asyncio.TimeoutError:
        pass  # a halted firmware answers nothing more: the M112 went out


# -- the connection ----------------------------------------------------------------------------

async def init_card(entry: FarmPrinter, *, must_mount: bool = False) -> None:
    """Mount the printer's SD card (M21) and list it; a queue copy waiting for the card looks again at once.
    ``must_mount``: 409 when the printer found no card (OctoPrint's init says nothing either way)."""
    if entry.printer.state in (_S.OFFLINE, _S.ERROR):
        raise FarmctlError("the printer is not connected", 409)
    try:
        await entry.printer.sd_init()
    finally:
        entry.driver.wake()
    if must_mount and not entry.printer.sd.ready:
        raise FarmctlError("the printer found no SD card to mount: insert one and try again", 409)


async def connect(entry: FarmPrinter) -> None:
    """Connect now (and keep reconnecting after a failure); an error stays on the printer's state."""
    entry.stay_offline = False
    if entry.printer.state in (_S.OFFLINE, _S.ERROR):
        try:
            await entry.printer.connect()
        except FarmctlError as exc:
            log.warning("printer %s: %s", entry.name, exc.message)


async def disconnect(entry: FarmPrinter) -> None:
    """Close the port and stay offline until asked to connect (a print in progress fails)."""
    entry.stay_offline = True
    await entry.printer.disconnect()
