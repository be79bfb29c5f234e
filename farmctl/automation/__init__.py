"""Event scripts and their preprocessors, evaluated without Python's eval (see expression.py)."""

from farmctl.automation.expression import Evaluator, evaluate
from farmctl.automation.limits import LIMITS, ExpressionError, Limits
from farmctl.automation.scripts import Event, RunResult, render, run_event
from farmctl.automation.syntax import BUILTINS, METHODS, parse

__all__ = [
    "BUILTINS", "LIMITS", "METHODS", "Evaluator", "Event", "ExpressionError", "Limits", "RunResult",
    "evaluate", "parse", "render", "run_event",
]
