"""The ways a printer's port can be served, for tests to run through each."""

import pytest

from farmctl import hotloop
from farmctl.reactor import Reactor
from farmctl.workers import SerialWorkers

HOT_LOOPS = {"thread per port, C hot loop": "c", "thread per port, Python hot loop": "python"}
"""A thread of its own hands the steady stream to a hot loop: the compiled one, or its fallback."""
SERVINGS = [*HOT_LOOPS, "reactor", "serial worker"]


def serving_for(name: str) -> Reactor | SerialWorkers | None:
    """What serves the ports: a thread each, one reactor, or a serial worker process (closed by ``close_serving``)."""
    if HOT_LOOPS.get(name) == "c" and hotloop.COMPILED is None:
        pytest.skip("farmctl._hotloop was not built (no C compiler or Python headers at install)")
    return {"reactor": Reactor, "serial worker": lambda: SerialWorkers(1)}.get(name, lambda: None)()


def hot_loop_env(name: str) -> dict[str, str]:
    """The environment that picks the serving's hot loop (``FARMCTL_HOT_LOOP``); threads only use one."""
    return {"FARMCTL_HOT_LOOP": HOT_LOOPS.get(name, "off")}


async def close_serving(servings) -> None:
    for serving in {id(s): s for s in servings if s is not None}.values():
        if isinstance(serving, SerialWorkers):
            await serving.close()
        else:
            serving.close()
