"""What a person can do to a printer from the dashboard, in one table: the printer page's buttons
(``POST /api/farm/printers/<name>/action``) and, for the actions marked ``bulk``, the farm view's
toolbar acting on several printers at once (:mod:`farmctl.farm.bulk`).

An action reads and checks its options once (:func:`prepare`), before any printer is touched, and
gives back the step to run on each printer; the steps are ``farmctl.farm.control``'s, the code the
OctoPrint routes use too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from farmctl.errors import FarmctlError
from farmctl.farm import control, fleet
from farmctl.queue.validate import as_int, json_number

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm, FarmPrinter

Step = Callable[["FarmPrinter"], Awaitable[None]]
Options = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Action:
    """``prepare(farm, options)`` checks the options and returns the per-printer step."""

    prepare: Callable[[Farm, Options], Step]
    bulk: bool = False
    """Offered on several selected printers at once."""


def _sync(call: Callable[[FarmPrinter], None]) -> Step:
    async def step(entry: FarmPrinter) -> None:
        call(entry)
    return step


def _axes(options: Options) -> dict[str, float]:
    return {axis: json_number(options, axis, -1000, 1000) for axis in ("x", "y", "z") if options.get(axis) is not None}


def _targets(options: Options) -> dict[str, float]:
    targets = options.get("targets")
    if not isinstance(targets, dict) or not targets:
        raise FarmctlError('targets must be an object like {"tool0": 210, "bed": 60}')
    return {str(heater): json_number(targets, heater, 0, control.MAX_TEMPERATURE) for heater in targets}


def _commands(options: Options) -> list[Any]:
    commands = options.get("commands")
    if not isinstance(commands, list) or not commands:
        raise FarmctlError('commands must be a list of G-code lines, e.g. ["M105"]')
    return commands


def _preheat(farm: Farm, options: Options) -> Step:
    chosen = fleet.preset(farm, options.get("preset"))
    return lambda entry: control.set_targets(entry, {heater: chosen.bed if heater == "bed" else chosen.tool
                                                     for heater in control.heater_names(entry)})


def _print(farm: Farm, options: Options) -> Step:
    path = options.get("path")
    if not isinstance(path, str) or not path:
        raise FarmctlError('print needs the upload\'s path, e.g. {"path": "bracket.gcode"}')
    return lambda entry: control.print_upload(farm, entry, path)


def _answer(farm: Farm, options: Options) -> Step:
    choice = as_int(options.get("choice"), "choice", minimum=0)
    return _sync(lambda entry: entry.printer.answer_prompt(choice))


def _managing(on: bool) -> Callable[[Farm, Options], Step]:
    return lambda farm, options: lambda entry: entry.driver.set_active(on)


def _with(call: Callable[..., Awaitable[None]], read: Callable[[Options], Any]) -> Callable[[Farm, Options], Step]:
    """An action whose step is ``call(entry, value)``, ``value`` read from the options once."""
    def prepare(farm: Farm, options: Options) -> Step:
        value = read(options)
        return lambda entry: call(entry, value)
    return prepare


def _plain(call: Callable[[FarmPrinter], Awaitable[None]]) -> Callable[[Farm, Options], Step]:
    return lambda farm, options: call


ACTIONS: dict[str, Action] = {
    "pause": Action(lambda farm, options: _sync(control.pause), bulk=True),
    "resume": Action(lambda farm, options: _sync(control.resume), bulk=True),
    "cancel": Action(lambda farm, options: _sync(control.cancel), bulk=True),
    "preheat": Action(_preheat, bulk=True),
    "cooldown": Action(_plain(control.cool_down), bulk=True),
    "manage": Action(_managing(True), bulk=True),
    "unmanage": Action(_managing(False), bulk=True),
    "print": Action(_print, bulk=True),
    "jog": Action(_with(control.jog, _axes)),
    "home": Action(_with(control.home, lambda options: options.get("axes") or ["x", "y", "z"])),
    "extrude": Action(_with(control.extrude, lambda options: json_number(options, "amount", -100, 100))),
    "targets": Action(_with(control.set_targets, _targets)),
    "fan": Action(_with(control.fan, lambda options: json_number(options, "percent", 0, 100))),
    "motors_off": Action(_plain(control.motors_off)),
    "emergency_stop": Action(_plain(control.emergency_stop)),
    "connect": Action(_plain(control.connect)),
    "disconnect": Action(_plain(control.disconnect)),
    "card_init": Action(_plain(lambda entry: control.init_card(entry, must_mount=True))),
    "answer": Action(_answer),
    "commands": Action(_with(control.send, _commands)),
}


def prepare(farm: Farm, action: Any, options: Options, *, bulk: bool = False) -> Step:
    """The step of ``action`` with its options checked; ``bulk``: only the actions offered on many printers."""
    known = [name for name, spec in ACTIONS.items() if spec.bulk or not bulk]
    if not isinstance(action, str) or action not in known:
        raise FarmctlError(f"unknown {'bulk ' if bulk else ''}action {action!r}; known: {', '.join(known)}")
    return ACTIONS[action].prepare(farm, options)
