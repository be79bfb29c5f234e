"""The ways a printer's port can be served, for tests to run through each."""

from farmctl.reactor import Reactor
from farmctl.workers import SerialWorkers

SERVINGS = ["thread per port", "reactor", "serial worker"]


def serving_for(name: str) -> Reactor | SerialWorkers | None:
    """What serves the ports: a thread each, one reactor, or a serial worker process (closed by ``close_serving``)."""
    return {"reactor": Reactor, "serial worker": lambda: SerialWorkers(1)}.get(name, lambda: None)()


async def close_serving(servings) -> None:
    for serving in {id(s): s for s in servings if s is not None}.values():
        if isinstance(serving, SerialWorkers):
            await serving.close()
        else:
            serving.close()
