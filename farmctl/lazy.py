"""A package's public names imported on first use (PEP 562), so a small command loads only what it runs.

``farmctl keys list`` imports ``farmctl.auth.command``, which makes Python run ``farmctl/auth/__init__``
first; with eager re-exports that alone would pull in the store and the whole auth service for
``farmctl --help``. A package built with :func:`lazy_exports` imports each name's module when the
name is first asked for, and keeps it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module path) on first use."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
