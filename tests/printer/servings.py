"""The ways a printer's port can be served, for tests to run through each."""

import pytest

from farmctl import hotloop
from farmctl.reactor import Reactor
from farmctl.workers import SerialWorkers

HOT_LOOPS = {
    "thread per port, C hot loop": "c",
    "thread per port, Python hot loop": "python",
    "reactor, C hot loop": "c",
    "reactor, general path": "off",
    "serial worker": "c",
}
"""Each serving's ``FARMCTL_HOT_LOOP``: a thread of its own hands the steady stream to the C loop or
its Python fallback; a reactor (a serial worker's too) to its C loop, or serves every reply itself."""
SERVINGS = list(HOT_LOOPS)


def serving_for(name: str) -> Reactor | SerialWorkers | None:
    """What serves the ports: a thread each, one reactor, or a serial worker process (closed by ``close_serving``)."""
    if HOT_LOOPS.get(name) == "c" and hotloop.COMPILED is None:
        pytest.skip("farmctl._hotloop was not built (no C compiler or Python headers at install)")
    if name.startswith("reactor"):
        return Reactor()
    return SerialWorkers(1) if name == "serial worker" else None


def hot_loop_env(name: str) -> dict[str, str]:
    """The environment that picks the serving's hot loop (read when the serving and its links start)."""
    return {"FARMCTL_HOT_LOOP": HOT_LOOPS.get(name, "c")}


async def close_serving(servings) -> None:
    for serving in {id(s): s for s in servings if s is not None}.values():
        if isinstance(serving, SerialWorkers):
            await serving.close()
        else:
            serving.close()
