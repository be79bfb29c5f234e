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
    max_len: int = 20_000
    """Characters in one string, items in one list, tuple, dict, set or range."""
    max_alloc: int = 200_000
    """Characters and items created in total by one run, so many medium values cannot add up."""

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")


LIMITS = Limits()


def text_size(value: object, cap: int) -> int:
    """An upper bound on ``len(str(value))``, or ``cap + 1`` once it exceeds ``cap``.

    Walks containers without building any text, so ``str()`` of a list holding the same long
    string many times is refused before it is built.
    """
    if isinstance(value, str):
        return min(len(value), cap + 1)
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += 10 * len(item) + 2  # repr may escape each character as \Uxxxxxxxx
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 100
    return min(total, cap + 1)


def weight(value: object, cap: int) -> int:
    """Roughly how much work comparing, hashing or sorting ``value`` costs; at most ``cap + 1``.

    Python compares nested containers element by element in C, so ``x == y`` on two lists of
    20,000 lists of 20,000 items is one expression but 400 million comparisons.
    """
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        total += 1
        if isinstance(item, str):
            total += len(item) // 64
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return min(total, cap + 1)
