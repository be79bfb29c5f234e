import random
from pathlib import Path

import pytest

from farmctl.printer import Printer
from servings import SERVINGS, close_serving, hot_loop_env, serving_for


def write_job_file(path: Path, moves: int, seed: int = 0, header: str = "G28\n") -> list[str]:
    """A job of short moves; returns its commands in order, as the firmware should run them."""
    rnd = random.Random(seed)
    commands = [line for line in header.splitlines() if line and not line.startswith(("@", ";"))]
    body = []
    for index in range(moves):
        body.append(f"G1 X{rnd.uniform(0, 200):.3f} Y{rnd.uniform(0, 200):.3f} E{index * 0.01:.4f} F3000")
    path.write_text(header + "".join(f"{line} ; move {index}\n" for index, line in enumerate(body)))
    return commands + body


@pytest.fixture
def write_job():
    return write_job_file


@pytest.fixture
def job_file(tmp_path):
    return tmp_path / "job.gcode"


@pytest.fixture(params=SERVINGS)
def serving(request, monkeypatch):
    """How the printers' ports are served (closed by ``connect``)."""
    for name, value in hot_loop_env(request.param).items():
        monkeypatch.setenv(name, value)
    return serving_for(request.param)


@pytest.fixture
async def connect():
    printers: list[Printer] = []

    async def connect(port: str, **kwargs) -> Printer:
        printer = Printer("test", port, handshake_timeout=kwargs.pop("handshake_timeout", 5), **kwargs)
        printers.append(printer)
        await printer.connect()
        return printer

    yield connect
    for printer in printers:
        await printer.disconnect()
    await close_serving([p.serving for p in printers])
