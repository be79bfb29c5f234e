"""Job files for printer tests."""

import random
from pathlib import Path


def write_job(path: Path, moves: int, seed: int = 0, header: str = "G28\n") -> list[str]:
    """A job of short moves; returns its commands in order, as the firmware should run them."""
    rnd = random.Random(seed)
    commands = [line for line in header.splitlines() if line and not line.startswith(("@", ";"))]
    body = []
    for index in range(moves):
        body.append(f"G1 X{rnd.uniform(0, 200):.3f} Y{rnd.uniform(0, 200):.3f} E{index * 0.01:.4f} F3000")
    path.write_text(header + "".join(f"{line} ; move {index}\n" for index, line in enumerate(body)))
    return commands + body
