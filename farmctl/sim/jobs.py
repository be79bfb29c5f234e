"""Synthetic print jobs for benchmarks: short segments wandering like a slicer's curve.

The segment lengths and the feed rate decide how many lines a second the moves need, so one
generator gives a job that the planner can starve on (real move times) or one that only the
wire limits (``time_scale=0`` in the simulator).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

FEEDRATE = 3000.0  # mm/min = 50 mm/s


def write_curves(path: Path, lines: int, min_mm: float = 0.1, max_mm: float = 0.3, seed: int = 1) -> float:
    """Write ``lines`` G1 moves of ``min_mm``–``max_mm`` each after a G92 and a feed rate; returns
    the lines per second the moves need at ``FEEDRATE``."""
    rnd = random.Random(seed)
    x, y, e, heading, move_time = 100.0, 100.0, 0.0, 0.0, 0.0
    with path.open("w") as out:
        out.write(f"G92 X{x:.0f} Y{y:.0f} Z0.2 E0\nG1 F{FEEDRATE:.0f}\n")
        for _ in range(lines):
            length = rnd.uniform(min_mm, max_mm)
            heading += rnd.uniform(-0.3, 0.3)
            x = min(max(x + length * math.cos(heading), 5), 215)
            y = min(max(y + length * math.sin(heading), 5), 215)
            e += length * 0.033
            move_time += length / (FEEDRATE / 60)
            out.write(f"G1 X{x:.3f} Y{y:.3f} E{e:.5f}\n")
    return lines / move_time
