"""The printer's body as the firmware sees it: heaters, the motion planner and the tool position.

Everything is a closed-form function of time so the firmware can compute when a wait ends
instead of ticking; durations are in simulated (firmware) seconds and the caller converts
them to its clock with the time scale.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

AMBIENT = 25.0


@dataclass(frozen=True, slots=True)
class Physics:
    """Rates and durations of the simulated machine (Marlin defaults where Marlin has one)."""

    hotend_heat_rate: float = 10.0   # °C/s towards a higher target
    bed_heat_rate: float = 2.0
    cool_rate: float = 3.0           # °C/s towards a lower target (both heaters)
    temp_window: float = 1.0         # TEMP_WINDOW: "reached" within this many degrees
    hotend_residency: float = 3.0    # TEMP_RESIDENCY_TIME (Marlin ships 10 s)
    bed_residency: float = 3.0
    home_time: float = 8.0           # G28
    level_time: float = 20.0         # G29 / Prusa G80
    default_feedrate: float = 1500.0  # mm/min, Marlin's power-on feedrate
    steps_per_mm: tuple[float, float, float] = (80.0, 80.0, 400.0)


@dataclass(slots=True)
class Heater:
    """A heater whose temperature moves linearly towards its target."""

    heat_rate: float
    cool_rate: float
    temp: float = AMBIENT
    target: float = 0.0
    updated: float = 0.0

    def goal(self) -> float:
        return max(self.target, AMBIENT) if self.target > 0 else AMBIENT

    def update(self, now: float, elapsed: float) -> None:
        """Move ``elapsed`` firmware seconds towards the goal and remember ``now``."""
        goal = self.goal()
        rate = self.heat_rate if goal > self.temp else self.cool_rate
        step = rate * elapsed
        self.temp = goal if abs(goal - self.temp) <= step else self.temp + math.copysign(step, goal - self.temp)
        self.updated = now

    def seconds_to(self, temp: float, window: float) -> float:
        """Firmware seconds until the temperature is within ``window`` of ``temp`` (inf if never)."""
        distance = abs(temp - self.temp) - window
        if distance <= 0:
            return 0.0
        goal = self.goal()
        same_side = (temp > self.temp) == (goal > self.temp)
        if not same_side or abs(goal - self.temp) < distance:
            return math.inf
        rate = self.heat_rate if goal > self.temp else self.cool_rate
        return distance / rate


class Planner:
    """BLOCK_BUFFER_SIZE blocks; a block is held from entry until its move has finished.

    Blocks run back to back, so each block's end time is fixed when it is queued.  Marlin
    keeps one slot free: at most ``blocks - 1`` moves are planned.
    """

    def __init__(self, blocks: int) -> None:
        self.capacity = blocks - 1
        self._ends: deque[float] = deque()
        self.first_start: float | None = None
        self.starved = 0.0
        self._excused_until = -math.inf
        self._last: float | None = None

    def _prune(self, now: float) -> None:
        while self._ends and self._ends[0] <= now:
            self._ends.popleft()

    def used(self, now: float) -> int:
        self._prune(now)
        return len(self._ends)

    def free(self, now: float) -> int:
        return self.capacity - self.used(now)

    def last_end(self, now: float) -> float:
        """When the planner will be empty (``now`` if it is already)."""
        self._prune(now)
        return self._ends[-1] if self._ends else now

    def slot_free_at(self, now: float) -> float:
        """When a new block can enter (``now`` if there is room)."""
        self._prune(now)
        over = len(self._ends) - self.capacity
        return now if over < 0 else self._ends[over]

    def excuse(self, until: float) -> None:
        """An empty planner before ``until`` is the firmware's own doing (G28, M109...)."""
        self._excused_until = max(self._excused_until, until)

    def add(self, now: float, duration: float) -> None:
        self._prune(now)
        if self._ends:
            start = self._ends[-1]
        else:
            start = now
            if self.first_start is None:
                self.first_start = now
            elif self._last is not None and now > self._last:
                self.starved += max(0.0, now - max(self._last, self._excused_until))
        end = start + duration
        self._ends.append(end)
        self._last = end

    def quick_stop(self) -> None:
        """M410: drop every planned move."""
        self._ends.clear()

    def clear(self) -> None:
        self._ends.clear()
        self._last = None
        self._excused_until = -math.inf


@dataclass(slots=True)
class Motion:
    """Modal state of the motion commands: position, G90/G91, M82/M83, units, feedrate."""

    feedrate: float = 1500.0  # mm/min, sticky across moves
    absolute: bool = True
    relative_e: bool = False
    inches: bool = False
    position: dict[str, float] = field(default_factory=lambda: dict.fromkeys("XYZE", 0.0))

    def target(self, params: dict[str, float]) -> dict[str, float]:
        scale = 25.4 if self.inches else 1.0
        target = dict(self.position)
        for axis in "XYZE":
            if axis not in params:
                continue
            value = params[axis] * scale
            relative = not self.absolute or (axis == "E" and self.relative_e)
            target[axis] = target[axis] + value if relative else value
        return target

    def move(self, params: dict[str, float], arc: bool = False) -> float:
        """Apply a G0-G3 and return its length in mm (XYZ, or E alone for a pure extrusion)."""
        if "F" in params and params["F"] > 0:
            self.feedrate = params["F"] * (25.4 if self.inches else 1.0)
        target = self.target(params)
        dx, dy, dz = (target[a] - self.position[a] for a in "XYZ")
        length = math.sqrt(dx * dx + dy * dy + dz * dz)
        if arc and ("I" in params or "J" in params):
            length = _arc_length(dx, dy, params.get("I", 0.0), params.get("J", 0.0)) or length
        if length == 0.0:
            length = abs(target["E"] - self.position["E"])
        self.position = target
        return length

    def set_position(self, params: dict[str, float]) -> None:
        """G92: declare where the axes are without moving."""
        for axis in "XYZE":
            if axis in params:
                self.position[axis] = params[axis]

    def report(self, steps_per_mm: tuple[float, float, float]) -> str:
        p = self.position
        counts = " ".join(f"{a}:{round(p[a] * s)}" for a, s in zip("XYZ", steps_per_mm))
        return f"X:{p['X']:.2f} Y:{p['Y']:.2f} Z:{p['Z']:.2f} E:{p['E']:.2f} Count {counts}"


def _arc_length(dx: float, dy: float, i: float, j: float) -> float:
    radius = math.hypot(i, j)
    if radius == 0:
        return 0.0
    start = math.atan2(-j, -i)
    end = math.atan2(dy - j, dx - i)
    sweep = abs(end - start) or 2 * math.pi
    return radius * sweep
