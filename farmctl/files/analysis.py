"""One-pass, incremental G-code analysis: print time, filament per tool, printed area, layers.

Sans-I/O: ``GcodeAnalyzer.feed(bytes)`` takes chunks of any size as they stream in (an upload, a
file read) and ``result()`` returns a frozen :class:`Analysis`. Nothing is kept but the current
machine state, the totals and an unfinished last line (capped, so a binary file cannot make it
grow).

The time estimate ignores acceleration: each move takes distance / feedrate (a pure E move takes
|dE| / F), plus ``G4`` dwells. When the slicer wrote its own estimate in a comment (Cura
``;TIME:``, PrusaSlicer/OrcaSlicer ``; estimated printing time (normal mode) = 1h 2m 3s``), that
one is preferred, and ``time_source`` says which was used.

Modes follow Marlin: G90/G91 switch X, Y, Z *and* E; M82/M83 switch E alone. Not modelled:
acceleration, G20 inches, firmware retraction (G10/G11), heating waits, and arcs in the printed
area (only their end points count there).
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from typing import Any

FILAMENT_DIAMETER_MM = 1.75
MAX_TOOLS = 16
MAX_LINE_BYTES = 64 * 1024
"""An unfinished line longer than this is dropped: the file is not text G-code."""

_MOVES = frozenset({b"G0", b"G1", b"G00", b"G01"})
_ARCS = frozenset({b"G2", b"G3", b"G02", b"G03"})
_DURATION = re.compile(rb"(\d+(?:\.\d+)?)\s*([DHMS])")
_UNIT_SECONDS = {b"D": 86400.0, b"H": 3600.0, b"M": 60.0, b"S": 1.0}
_WORD = re.compile(rb"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")


class TimeSource(enum.Enum):
    SLICER = "slicer"      # a comment the slicer wrote
    COMPUTED = "computed"  # distance / feedrate summed here


class LayerSource(enum.Enum):
    COMMENTS = "comments"  # ;LAYER: (Cura) or ;LAYER_CHANGE (PrusaSlicer, OrcaSlicer) markers
    Z_HEIGHTS = "z"        # distinct Z heights of extruding moves


# Slicer comments holding a whole-print estimate, best first. Text is upper-cased before matching.
_TIME_COMMENTS = (
    b"; ESTIMATED PRINTING TIME (NORMAL MODE)",
    b";TIME:",
    b"; TOTAL ESTIMATED TIME",
    b"; ESTIMATED PRINTING TIME (SILENT MODE)",
)


@dataclass(frozen=True, slots=True)
class Box:
    min_x: float
    max_x: float
    min_y: float
    max_y: float
    min_z: float
    max_z: float


@dataclass(frozen=True, slots=True)
class Analysis:
    estimated_print_time: float
    """Seconds: the slicer's estimate when present, else ``computed_print_time``."""
    time_source: TimeSource
    computed_print_time: float
    slicer_print_time: float | None
    filament_mm: tuple[float, ...]
    """Net extruded length per tool, index = tool number (T0, T1, ...)."""
    area: Box | None
    """Bounding box of extruding moves; None when nothing is extruded."""
    layers: int
    layer_source: LayerSource

    def filament_volume_cm3(self, tool: int, diameter: float = FILAMENT_DIAMETER_MM) -> float:
        return self.filament_mm[tool] * math.pi * (diameter / 2) ** 2 / 1000.0

    def to_octoprint(self) -> dict[str, Any]:
        """The ``gcodeAnalysis`` object OctoPrint puts in file and job records (volume in cm³)."""
        box = self.area or Box(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        filament = {
            f"tool{tool}": {"length": round(length, 5), "volume": round(self.filament_volume_cm3(tool), 5)}
            for tool, length in enumerate(self.filament_mm)
        }
        return {
            "estimatedPrintTime": self.estimated_print_time,
            "filament": filament,
            "printingArea": {
                "minX": box.min_x, "maxX": box.max_x,
                "minY": box.min_y, "maxY": box.max_y,
                "minZ": box.min_z, "maxZ": box.max_z,
            },
            "dimensions": {
                "width": round(box.max_x - box.min_x, 5),
                "depth": round(box.max_y - box.min_y, 5),
                "height": round(box.max_z - box.min_z, 5),
            },
            "layers": self.layers,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form for the metadata sidecar; :meth:`from_dict` reverses it."""
        return {
            "estimated_print_time": self.estimated_print_time,
            "time_source": self.time_source.value,
            "computed_print_time": self.computed_print_time,
            "slicer_print_time": self.slicer_print_time,
            "filament_mm": list(self.filament_mm),
            "area": None if self.area is None else [
                self.area.min_x, self.area.max_x, self.area.min_y,
                self.area.max_y, self.area.min_z, self.area.max_z,
            ],
            "layers": self.layers,
            "layer_source": self.layer_source.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        area = data["area"]
        return cls(
            estimated_print_time=float(data["estimated_print_time"]),
            time_source=TimeSource(data["time_source"]),
            computed_print_time=float(data["computed_print_time"]),
            slicer_print_time=None if data["slicer_print_time"] is None else float(data["slicer_print_time"]),
            filament_mm=tuple(float(v) for v in data["filament_mm"]),
            area=None if area is None else Box(*(float(v) for v in area)),
            layers=int(data["layers"]),
            layer_source=LayerSource(data["layer_source"]),
        )


def parse_duration(text: bytes) -> float | None:
    """Seconds in ``1d 2h 3m 4s`` (upper-cased), or ``None`` when there is no number."""
    parts = _DURATION.findall(text)
    if not parts:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


class GcodeAnalyzer:
    """Feed G-code bytes in order with :meth:`feed`; read totals with :meth:`result`."""

    def __init__(self) -> None:
        self._tail = b""
        self._x = self._y = self._z = self._e = 0.0
        self._f = 0.0                   # mm/min, sticky
        self._relative = False          # G91 / G90 for XYZ
        self._relative_e = False        # M83 / M82 (G90/G91 set it too, as Marlin does)
        self._tool = 0
        self._extruded = [0.0]          # net E per tool
        self._minutes = 0.0             # move time, in minutes (feedrates are per minute)
        self._dwell = 0.0               # seconds
        self._box = [math.inf, -math.inf, math.inf, -math.inf, math.inf, -math.inf]
        self._z_heights: set[float] = set()
        self._last_layer_z = math.nan
        self._layer_comments = 0
        self._layer_changes = 0
        self._slicer_times: dict[bytes, float] = {}

    def feed(self, data: bytes) -> None:
        if not data:
            return
        text = self._tail + data
        cut = text.rfind(b"\n")
        if cut < 0:
            self._tail = text if len(text) <= MAX_LINE_BYTES else b""
            return
        self._tail = text[cut + 1:] if len(text) - cut <= MAX_LINE_BYTES else b""
        self._run(text[:cut].upper())

    def result(self) -> Analysis:
        if self._tail:
            tail, self._tail = self._tail, b""
            self._run(tail.upper())
        computed = self._minutes * 60.0 + self._dwell
        slicer = next((self._slicer_times[k] for k in _TIME_COMMENTS if k in self._slicer_times), None)
        if self._layer_comments:
            layers, layer_source = self._layer_comments, LayerSource.COMMENTS
        elif self._layer_changes:
            layers, layer_source = self._layer_changes, LayerSource.COMMENTS
        else:
            layers, layer_source = len(self._z_heights), LayerSource.Z_HEIGHTS
        box = self._box
        return Analysis(
            estimated_print_time=round(slicer if slicer is not None else computed, 3),
            time_source=TimeSource.SLICER if slicer is not None else TimeSource.COMPUTED,
            computed_print_time=round(computed, 3),
            slicer_print_time=slicer,
            filament_mm=tuple(round(max(0.0, length), 5) for length in self._extruded),
            area=None if box[0] == math.inf else Box(*(round(v, 5) for v in box)),
            layers=layers,
            layer_source=layer_source,
        )

    def _run(self, text: bytes) -> None:
        # The hot loop: plain "G0/G1 X.. Y.. E.." lines are parsed inline; anything else (and
        # any G0/G1 that fails to parse) goes to _slow_line. Machine state lives in locals; the
        # slow path works on the attributes, so locals are written back before it and reloaded.
        x, y, z, e, f = self._x, self._y, self._z, self._e, self._f
        relative, relative_e, tool = self._relative, self._relative_e, self._tool
        extruded, minutes = self._extruded, self._minutes
        min_x, max_x, min_y, max_y, min_z, max_z = self._box
        z_heights, last_layer_z = self._z_heights, self._last_layer_z
        sqrt = math.sqrt
        for line in text.split(b"\n"):
            words = line.split()
            if not words:
                continue
            command = words[0]
            if command == b"G1" or command == b"G0":
                nx, ny, nz, de = x, y, z, 0.0
                try:
                    for word in words[1:]:
                        key = word[0]
                        if key == 88:    # X
                            nx = x + float(word[1:]) if relative else float(word[1:])
                        elif key == 89:  # Y
                            ny = y + float(word[1:]) if relative else float(word[1:])
                        elif key == 69:  # E
                            de = float(word[1:]) if relative_e else float(word[1:]) - e
                        elif key == 70:  # F
                            f = float(word[1:])
                        elif key == 90:  # Z
                            nz = z + float(word[1:]) if relative else float(word[1:])
                        elif key == 59:  # ';' comment
                            break
                except ValueError:
                    pass  # "E1;comment", "X1.2.3": let the slow path sort it out
                else:
                    dx, dy, dz = nx - x, ny - y, nz - z
                    distance = sqrt(dx * dx + dy * dy + dz * dz) or abs(de)
                    if f > 0.0:
                        minutes += distance / f
                    if de:
                        e += de
                        extruded[tool] += de
                        if de > 0.0 and (dx or dy):
                            if x < min_x: min_x = x  # noqa: E701 - the hot path reads better flat
                            if x > max_x: max_x = x  # noqa: E701
                            if nx < min_x: min_x = nx  # noqa: E701
                            if nx > max_x: max_x = nx  # noqa: E701
                            if y < min_y: min_y = y  # noqa: E701
                            if y > max_y: max_y = y  # noqa: E701
                            if ny < min_y: min_y = ny  # noqa: E701
                            if ny > max_y: max_y = ny  # noqa: E701
                            if nz != last_layer_z:
                                last_layer_z = nz
                                z_heights.add(round(nz, 4))
                                if nz < min_z: min_z = nz  # noqa: E701
                                if nz > max_z: max_z = nz  # noqa: E701
                                if z < min_z: min_z = z  # noqa: E701
                                if z > max_z: max_z = z  # noqa: E701
                    x, y, z = nx, ny, nz
                    continue
            elif command[0] == 59:  # ';'
                self._comment(line)
                continue
            self._x, self._y, self._z, self._e, self._f = x, y, z, e, f
            self._relative, self._relative_e, self._tool = relative, relative_e, tool
            self._minutes = minutes
            self._box = [min_x, max_x, min_y, max_y, min_z, max_z]
            self._last_layer_z = last_layer_z
            self._slow_line(line)
            x, y, z, e, f = self._x, self._y, self._z, self._e, self._f
            relative, relative_e, tool = self._relative, self._relative_e, self._tool
            extruded, minutes = self._extruded, self._minutes
            min_x, max_x, min_y, max_y, min_z, max_z = self._box
            last_layer_z = self._last_layer_z
        self._x, self._y, self._z, self._e, self._f = x, y, z, e, f
        self._relative, self._relative_e, self._tool = relative, relative_e, tool
        self._minutes = minutes
        self._box = [min_x, max_x, min_y, max_y, min_z, max_z]
        self._last_layer_z = last_layer_z

    def _slow_line(self, line: bytes) -> None:
        """Lines other than plain G0/G1: odd spacing, line numbers, arcs, modes, resets, tools."""
        cut = line.find(b";")
        if cut >= 0:
            line = line[:cut]
        words = line.split()
        if not words:
            return
        command = words[0]
        if command[0] == 78 or not command[1:].isdigit() or b"(" in line:
            # Unspaced words ("G1X10Y5"), line numbers ("N7 G1 X1*85"), paren comments.
            words = _split_words(line)
            if not words:
                return
            command = words[0]
        if command in _MOVES or command in _ARCS:
            self._motion(command, _values(words))
        elif command == b"G92":
            values = _values(words)
            if not values:
                self._x = self._y = self._z = self._e = 0.0
            self._x = values.get(88, self._x)
            self._y = values.get(89, self._y)
            self._z = values.get(90, self._z)
            self._e = values.get(69, self._e)
        elif command == b"G90":
            self._relative = self._relative_e = False
        elif command == b"G91":
            self._relative = self._relative_e = True
        elif command == b"M82":
            self._relative_e = False
        elif command == b"M83":
            self._relative_e = True
        elif command in (b"G4", b"G04"):
            values = _values(words)
            self._dwell += values.get(83, 0.0) + values.get(80, 0.0) / 1000.0  # S seconds, P ms
        elif command == b"G28":
            named = {word[0] for word in words[1:]} & {88, 89, 90}
            if not named or 88 in named:
                self._x = 0.0
            if not named or 89 in named:
                self._y = 0.0
            if not named or 90 in named:
                self._z = 0.0
        elif command[0] == 84 and int(command[1:]) < MAX_TOOLS:  # T<n>
            self._tool = int(command[1:])
            if self._tool >= len(self._extruded):
                self._extruded.extend([0.0] * (self._tool + 1 - len(self._extruded)))

    def _motion(self, command: bytes, values: dict[int, float]) -> None:
        """G0/G1 written unusually, and G2/G3 arcs (I/J form), whose time and filament follow the
        arc while the printed area counts only its end points."""
        x, y, z, e = self._x, self._y, self._z, self._e
        if self._relative:
            nx, ny, nz = x + values.get(88, 0.0), y + values.get(89, 0.0), z + values.get(90, 0.0)
        else:
            nx, ny, nz = values.get(88, x), values.get(89, y), values.get(90, z)
        de = values.get(69, 0.0) if self._relative_e else values.get(69, e) - e
        self._f = values.get(70, self._f)
        i, j = values.get(73, 0.0), values.get(74, 0.0)
        radius = math.hypot(i, j) if command in _ARCS else 0.0
        if radius:
            cx, cy = x + i, y + j
            start, end = math.atan2(y - cy, x - cx), math.atan2(ny - cy, nx - cx)
            sweep = (start - end if command in (b"G2", b"G02") else end - start) % (2 * math.pi)
            length = math.hypot(radius * (sweep or 2 * math.pi), nz - z)
        else:
            length = math.dist((x, y, z), (nx, ny, nz))
        if self._f > 0.0:
            self._minutes += (length or abs(de)) / self._f
        if de:
            self._extruded[self._tool] += de
            self._e = e + de
            if de > 0.0 and (nx != x or ny != y):
                box = self._box
                self._box = [min(box[0], x, nx), max(box[1], x, nx), min(box[2], y, ny),
                             max(box[3], y, ny), min(box[4], z, nz), max(box[5], z, nz)]
                if nz != self._last_layer_z:
                    self._last_layer_z = nz
                    self._z_heights.add(round(nz, 4))
        self._x, self._y, self._z = nx, ny, nz

    def _comment(self, line: bytes) -> None:
        line = line.strip()
        if line.startswith(b";LAYER:"):
            self._layer_comments += 1
        elif line.startswith(b";LAYER_CHANGE"):
            self._layer_changes += 1
        elif line.startswith(b";TIME:") or line.startswith(b"; ESTIMATED PRINTING TIME") or (
                line.startswith(b"; MODEL PRINTING TIME")):
            self._slicer_time(line)

    def _slicer_time(self, line: bytes) -> None:
        if line.startswith(b";TIME:"):
            try:
                seconds: float | None = float(line[6:])
            except ValueError:
                return
            key = b";TIME:"
        elif line.startswith(b"; MODEL PRINTING TIME"):  # OrcaSlicer: "; model ...: 5m; total estimated time: 6m"
            at = line.find(b"TOTAL ESTIMATED TIME")
            if at < 0:
                return
            seconds, key = parse_duration(line[at:]), b"; TOTAL ESTIMATED TIME"
        else:
            key = line.split(b"=", 1)[0].rstrip()
            seconds = parse_duration(line[len(key):])
        if seconds is not None and key not in self._slicer_times:
            self._slicer_times[key] = seconds


def _values(words: list[bytes]) -> dict[int, float]:
    values = {}
    for word in words[1:]:
        try:
            values[word[0]] = float(word[1:])
        except ValueError:
            continue
    return values


def _split_words(line: bytes) -> list[bytes]:
    """Slow path for lines that do not split on spaces: drop N<n>, *checksum and (comments)."""
    line = re.sub(rb"\([^)]*\)", b" ", line.split(b"*", 1)[0])
    words = [key + value for key, value in _WORD.findall(line)]
    if words and words[0][0] == 78:  # N<line number>
        words = words[1:]
    return words
