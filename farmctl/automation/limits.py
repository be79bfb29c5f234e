"""The one error automation raises, and the bounds every preprocessor runs within."""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.errors import FarmctlError


class ExpressionError(FarmctlError):
    """A preprocessor or script a person must fix; the message names the line and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=400)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one preprocessor run. Each is checked *before* the work it bounds is done."""

    max_source_chars: int = 4096
    max_nodes: int = 1000
    """Syntax-tree nodes in one preprocessor."""
    max_depth: int = 60
    """Nesting of the syntax tree (keeps the evaluator's recursion far from Python's limit)."""
    max_steps: int = 100_000
    """Nodes evaluated, comprehension rounds included: a few tens of milliseconds at most."""
    max_int_bits: int = 1024
    """About 308 decimal digits; refuses ``2 ** 10**9`` before computing it."""
    max_len: int = 100_000
    """Characters in one string, items in one list, tuple, dict, set or range."""
    max_alloc: int = 1_000_000
    """Characters and items created in total by one run, so many medium values cannot add up."""

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")


LIMITS = Limits()
