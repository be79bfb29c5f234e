"""Queue events, their G-code scripts, and the preprocessors that gate and fill them.

A script is G-code text. It may contain placeholders ``{name}`` or ``{name:spec}`` (spec limited
to short width/precision forms such as ``{temp:.0f}``); a literal brace is written ``{{`` or ``}}``.
A hook's preprocessor result decides what happens to its script:

* ``False`` or ``None``: the script is skipped;
* ``True`` (or no preprocessor): the script runs as written;
* a dict: its keys fill the placeholders;
* anything else is an error.

A placeholder the result does not fill is an error, never left in the G-code (as the plugin
does): a printer must not receive ``M190 S{temp}``. Placeholders are names only, so
``{a.__class__}`` or ``{a[0]}`` are refused rather than looked up.
"""

from __future__ import annotations

import enum
import re
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from farmctl.automation.expression import Evaluator
from farmctl.automation.limits import LIMITS, ExpressionError, Limits, text_size
from farmctl.automation.syntax import SAFE_SPEC
from farmctl.errors import FarmctlError

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PLACEHOLDER = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?::(.*))?", re.DOTALL)
_PAUSE = "@pause"
_REPR_LIMIT = 200


class Event(enum.Enum):
    """Queue events a script can hook; the value is the plugin's event name."""

    ACTIVATE = "continuousprint_activate"
    PRINT_START = "continuousprint_start_print"
    PRINT_SUCCESS = "continuousprint_success"
    PRINT_CANCEL = "continuousprint_cancel"
    COOLDOWN = "continuousprint_cooldown"
    FINISH = "continuousprint_finish"
    AWAITING_MATERIAL = "continuousprint_awaiting_material"
    DEACTIVATE = "continuousprint_deactivate"

    @property
    def display_name(self) -> str:
        return _DISPLAY[self]

    @classmethod
    def named(cls, name: str | Event) -> Event:
        """The event for a plugin event name; an unknown name is a 400 error."""
        if isinstance(name, Event):
            return name
        try:
            return cls(name)
        except ValueError:
            known = ", ".join(event.value for event in cls)
            raise FarmctlError(f"unknown event {name!r}; known events: {known}") from None


_DISPLAY = {
    Event.ACTIVATE: "Queue Activated",
    Event.PRINT_START: "Print Start",
    Event.PRINT_SUCCESS: "Print Success",
    Event.PRINT_CANCEL: "Print Cancel",
    Event.COOLDOWN: "Bed Cooldown",
    Event.FINISH: "Queue Finished",
    Event.AWAITING_MATERIAL: "Awaiting Material",
    Event.DEACTIVATE: "Queue Deactivated",
}


@dataclass(frozen=True, slots=True)
class RunResult:
    """What running an event's hooks produced; also the body of ``automation/simulate``.

    When ``stderr`` is not empty a preprocessor or script failed: ``gcode`` is then only
    ``@pause``, so the printer holds for a person instead of running half the scripts (or
    skipping bed clearing and printing onto a full bed).
    """

    gcode: str
    stdout: str = ""
    stderr: str = ""
    symtable_diff: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.stderr != ""

    def as_dict(self) -> dict[str, object]:
        return {"gcode": self.gcode, "symtable_diff": dict(self.symtable_diff),
                "stdout": self.stdout, "stderr": self.stderr}


def render(script: str, result: object) -> str | None:
    """The G-code ``script`` becomes for a preprocessor ``result``; None means skip it."""
    if result is None or result is False:
        return None
    if result is True:
        return _fill(script, {})
    if isinstance(result, dict):
        return _fill(script, result)
    raise ExpressionError(
        f"a preprocessor must give True, False, None or a dict, not {type(result).__name__} ({_short(result)})"
    )


def _fill(script: str, values: Mapping[object, object]) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        line = script.count("\n", 0, match.start()) + 1
        inner = match.group(1)
        placeholder = None if inner is None else _PLACEHOLDER.fullmatch(inner)
        if placeholder is None:
            raise ExpressionError(
                f"script line {line}: {token!r} is not a placeholder; use {{name}}, or {{{{ and }}}} for a brace"
            )
        name, spec = placeholder.group(1), placeholder.group(2) or ""
        if name not in values:
            given = ", ".join(sorted(str(key) for key in values))
            source = f"the preprocessor gave only {given}" if given else "fill it by returning a dict from a preprocessor"
            raise ExpressionError(f"script line {line}: placeholder {token} has no value ({source})")
        if not SAFE_SPEC.fullmatch(spec):
            raise ExpressionError(f"script line {line}: format spec {spec!r} in {token} is not allowed")
        value = values[name]
        if text_size(value, LIMITS.max_len) > LIMITS.max_len:
            raise ExpressionError(f"script line {line}: the value for {token} is over {LIMITS.max_len} characters")
        try:
            return format(value, spec) if spec else str(value)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"script line {line}: cannot format {token} with {_short(value)}: {exc}") from None

    return _TOKEN.sub(replace, script)


def run_event(
    event: Event | str,
    hooks: Iterable[tuple[str, str | None]],
    symbols: Mapping[str, object],
    limits: Limits = LIMITS,
) -> RunResult:
    """Run each hook's preprocessor in order against ``symbols`` and join the scripts that run.

    Hooks share one Evaluator, so a name one preprocessor assigns is visible to the next (as in
    the plugin). The first failure stops the event: its message, naming the hook, is ``stderr``.
    """
    event = Event.named(event)
    evaluator = Evaluator(symbols, limits)
    parts: list[str] = []
    error = ""
    for number, (script, preprocessor) in enumerate(hooks, start=1):
        try:
            result = True if preprocessor is None or not preprocessor.strip() else evaluator.run(preprocessor)
            rendered = render(script, result)
        except ExpressionError as exc:
            error = f"{event.display_name}, script {number}: {exc.message}\n"
            break
        if rendered is not None:
            parts.append(rendered)
    diff = {
        name: _short(value, _REPR_LIMIT)
        for name, value in evaluator.assigned.items()
        if name not in symbols or symbols[name] != value
    }
    gcode = _PAUSE if error else "\n".join(parts)
    return RunResult(gcode=gcode, stdout=evaluator.stdout, stderr=error, symtable_diff=diff)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR_LIMIT


def _short(value: object, limit: int = 60) -> str:
    """A repr cut to ``limit`` characters, never building the whole text of a large value."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
