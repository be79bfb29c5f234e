"""farm.toml: one ``[[printers]]`` table per printer, checked strictly before anything starts.

An operator who mistypes a key should learn it at start-up, with the key and the line, not
discover a week later that a printer ran with a default. Without a file, a demo farm of three
simulated printers starts so a newcomer sees a working farm at once.
"""

from __future__ import annotations

import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from farmctl.data_folder import DATABASE_NAME
from farmctl.errors import FarmctlError
from farmctl.farm.checks import NAME, name, typed, within
from farmctl.farm.mqtt_config import MqttConfig, parse_mqtt
from farmctl.farm.node_config import node_url, shared_uploads
from farmctl.profiles import load_profiles
from farmctl.reactor import GATHER

SIM_PORT = "sim"
MB = 1 << 20
DEFAULT_MAX_UPLOAD = 1024 * MB
MAX_UPLOAD_MB_LIMIT = 1 << 20  # a terabyte: anything larger is a typo
RESERVED_TOPIC_LEVEL = "mqtt"
"""``<base_topic>/mqtt/<node>`` is a node's last will, so no printer's topics may start there."""
MAX_PRINTER_PROFILE = 100


def valid_printer_profile(name: str) -> bool:
    return 0 < len(name) <= MAX_PRINTER_PROFILE and name.isprintable() and name.strip() == name
MAX_TAGS = 20
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$")


@dataclass(frozen=True, slots=True)
class BedConfig:
    width: float = 220.0
    depth: float = 220.0
    height: float = 250.0
    heated: bool = True


@dataclass(frozen=True, slots=True)
class WebcamConfig:
    """Where a printer's camera is: an MJPEG ``stream`` and/or a JPEG ``snapshot`` URL (either may be empty)."""

    stream: str = ""
    snapshot: str = ""


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    name: str
    port: str
    baud: int | None = None
    profile: str | None = None
    """The firmware profile (buffer sizes, quirks): detected from M115 when absent."""
    printer_profile: str | None = None
    """The printer profile name a queued set's ``profiles`` list is matched against (Continuous Print's
    printer profile, e.g. "Prusa i3 MK3S"); the API may set it too. Distinct from the firmware ``profile``."""
    api_port: int | None = None
    bed: BedConfig = field(default_factory=BedConfig)
    extruders: int = 1
    default: bool = False
    tags: tuple[str, ...] = ()
    """Groups the farm view filters and selects by ("left-wall", "petg"); the page may change them."""
    webcam: WebcamConfig | None = None

    @property
    def simulated(self) -> bool:
        return self.port == SIM_PORT


def default_node_name() -> str:
    """This machine's host name as a node name (``node`` in farm.toml overrides it)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]).strip("-_")[:40]
    return cleaned or "farmctl"


MAX_SERIAL_WORKERS = 64
MAX_GATHER_MS = 10
"""Longer would hold back a fast port's replies for little more saving."""


@dataclass(frozen=True, slots=True)
class FarmConfig:
    printers: tuple[PrinterConfig, ...]
    source: Path | None = None
    max_upload: int = DEFAULT_MAX_UPLOAD
    """Bytes an upload may have (``max_upload_mb`` in farm.toml); a larger one is refused with 413."""
    node: str = field(default_factory=default_node_name)
    """This farmctl process among the farm's nodes: its MQTT last will and Home Assistant device."""
    mqtt: MqttConfig | None = None
    """The broker telemetry goes to; None: no MQTT at all (aiomqtt is not even imported)."""
    node_timeout: float = 30.0
    """Seconds without a heartbeat after which the other nodes settle a node's open runs (shared database)."""
    serial_workers: int | None = None
    """Processes that serve the printers' ports (0: one reactor thread in the main process); None: chosen
    from the printers and the cores (``farmctl.workers.default_count``)."""
    serial_gather: float = GATHER
    """Seconds each serial reactor lets pass between its wakeups while it serves several ports
    (``serial_gather_ms``; 0, the default: wake for every reply): less CPU, at the cost of dense jobs."""
    node_url: str | None = None
    """Where the other nodes reach this one (no trailing slash); None: ``serve`` derives it from the
    host name and port it listens on (:func:`farmctl.farm.node_config.default_node_url`)."""
    shared_uploads: Path | None = None
    """A folder every node can read (a network share): a node lacking a set's file looks there
    before asking the node that has it."""
    database: str | None = field(default=None, repr=False)  # its URL may hold a password
    """A ``postgresql://`` URL that several nodes share; None: SQLite, ``farmctl.db`` in the data folder."""

    def database_in(self, data_dir: Path) -> str | Path:
        """Where the queue lives for a node whose data folder is ``data_dir``."""
        return self.database or data_dir / DATABASE_NAME


DEMO_FARM = FarmConfig(printers=(
    PrinterConfig("demo-1", SIM_PORT, profile="marlin2"),
    PrinterConfig("demo-2", SIM_PORT, profile="marlin2-advanced-ok"),
    PrinterConfig("demo-3", SIM_PORT, profile="prusa-mk3", bed=BedConfig(250, 210, 210)),
))


class _Locator:
    """Finds the line of a key inside the n-th ``[[printers]]`` table, for error messages."""

    def __init__(self, text: str, path: Path) -> None:
        self.lines = text.splitlines()
        self.path = path

    def line_of(self, key: str, table_index: int | None = None) -> int | None:
        start, seen = 0, -1
        if table_index is not None:
            for number, line in enumerate(self.lines):
                if line.strip().startswith("[[printers]]"):
                    seen += 1
                    if seen == table_index:
                        start = number
                        break
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=|\b{re.escape(key)}\s*=")
        for number in range(start, len(self.lines)):
            if number > start and table_index is not None and self.lines[number].strip().startswith("[["):
                break
            if pattern.search(self.lines[number]):
                return number + 1
        return start + 1 if table_index is not None else None

    def error(self, message: str, key: str, table_index: int | None = None) -> FarmctlError:
        line = self.line_of(key, table_index)
        where = f"{self.path}:{line}" if line else str(self.path)
        return FarmctlError(f"{where}: {message}")


def _bed(raw: Any) -> BedConfig:
    if not isinstance(raw, dict):
        raise ValueError("bed must be a table like { width = 250, depth = 210, height = 210, heated = true }")
    unknown = raw.keys() - {"width", "depth", "height", "heated"}
    if unknown:
        raise ValueError(f"bed has unknown key {sorted(unknown)[0]!r}")
    values = {}
    for key in ("width", "depth", "height"):
        if key in raw:
            number = typed(raw[key], (int, float), f"bed.{key}")
            if not 0 < number <= 2000:
                raise ValueError(f"bed.{key} must be between 0 and 2000 mm")
            values[key] = float(number)
    if "heated" in raw:
        values["heated"] = typed(raw["heated"], bool, "bed.heated")
    return BedConfig(**values)


def tag_list(raw: Any) -> tuple[str, ...]:
    """Groups: up to 20 distinct names of 1-40 letters, digits, spaces, '-' or '_'."""
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_TAGS:
        raise ValueError(f"tags must be a list of at most {MAX_TAGS} names, like [\"left-wall\", \"petg\"]")
    tags: list[str] = []
    for tag in raw:
        if not isinstance(tag, str) or not _TAG.match(tag.strip()):
            raise ValueError(f"tag {tag!r} must be 1-40 letters, digits, spaces, '-' or '_'")
        if tag.strip() not in tags:
            tags.append(tag.strip())
    return tuple(tags)


def _webcam(raw: Any) -> WebcamConfig:
    if not isinstance(raw, dict) or raw.keys() - {"stream", "snapshot"}:
        raise ValueError('webcam must be a table like { stream = "http://cam/stream", snapshot = "http://cam/snap.jpg" }')
    urls = {}
    for key in ("stream", "snapshot"):
        value = typed(raw.get(key, ""), str, f"webcam.{key}")
        if value and not re.match(r"^(https?://|/)", value):
            raise ValueError(f"webcam.{key} must be an http(s):// URL or a path on this server, not {value!r}")
        urls[key] = value
    return WebcamConfig(**urls)


def _max_upload(value: Any) -> int:
    """``max_upload_mb`` (a number of megabytes, 2**20 bytes each) in bytes."""
    number = typed(value, (int, float), "max_upload_mb")
    if not 0 < number <= MAX_UPLOAD_MB_LIMIT or int(number * MB) < 1:
        raise ValueError(f"max_upload_mb must be above 0 and at most {MAX_UPLOAD_MB_LIMIT}, not {number}")
    return int(number * MB)


def _printer(raw: dict[str, Any], index: int, locate: _Locator, profiles: set[str]) -> PrinterConfig:
    allowed = {"name", "port", "baud", "profile", "printer_profile", "api_port", "bed", "extruders", "default",
               "tags", "webcam"}
    for key in raw:
        if key not in allowed:
            raise locate.error(f"unknown key {key!r} in [[printers]] (known: {', '.join(sorted(allowed))})", key, index)
    for key in ("name", "port"):
        if key not in raw:
            raise locate.error(f"printer #{index + 1} needs a {key!r}", "[[printers]]", index)
    values: dict[str, Any] = {}
    checks = {
        "name": lambda v: within(typed(v, str, "name"), bool(NAME.match(v)),
                                  f"name {v!r} must be 1-40 letters, digits, '-' or '_' (it is used in URLs)"),
        "port": lambda v: typed(v, str, "port"),
        "baud": lambda v: within(typed(v, int, "baud"), 1200 <= v <= 4_000_000, f"baud {v} is not a serial speed"),
        "profile": lambda v: within(typed(v, str, "profile"), v in profiles,
                                     f"unknown firmware profile {v!r}; known: {', '.join(sorted(profiles))}"),
        "printer_profile": lambda v: within(typed(v, str, "printer_profile"), valid_printer_profile(v),
                                            f"printer_profile {v!r} must be 1 to {MAX_PRINTER_PROFILE} printable characters"),
        "api_port": lambda v: within(typed(v, int, "api_port"), 1024 <= v <= 65535,
                                      f"api_port {v} must be between 1024 and 65535"),
        "bed": _bed,
        "extruders": lambda v: within(typed(v, int, "extruders"), 1 <= v <= 8, "extruders must be between 1 and 8"),
        "default": lambda v: typed(v, bool, "default"),
        "tags": tag_list,
        "webcam": _webcam,
    }
    for key, value in raw.items():
        try:
            values[key] = checks[key](value)
        except ValueError as exc:
            raise locate.error(str(exc), key, index) from None
    return PrinterConfig(**values)


def load_config(path: Path | None) -> FarmConfig:
    """The farm in ``path``, or the demo farm when no path is given."""
    if path is None:
        return DEMO_FARM
    try:
        text = path.read_text()
    except OSError as exc:
        raise FarmctlError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FarmctlError(f"{path}: {exc}") from exc
    locate = _Locator(text, path)
    farm_wide = _farm_wide(data, locate)
    raw_printers = data.get("printers", [])
    if not isinstance(raw_printers, list) or not raw_printers:
        raise FarmctlError(f"{path}: no [[printers]] table")
    profiles = set(load_profiles())
    printers = tuple(_printer(raw, index, locate, profiles) for index, raw in enumerate(raw_printers))
    seen: dict[str, int] = {}
    ports: dict[int, str] = {}
    for index, printer in enumerate(printers):
        if printer.name in seen:
            raise locate.error(f"printer name {printer.name!r} is used twice", "name", index)
        seen[printer.name] = index
        if printer.api_port is not None:
            if printer.api_port in ports:
                raise locate.error(f"api_port {printer.api_port} is already {ports[printer.api_port]!r}'s", "api_port", index)
            ports[printer.api_port] = printer.name
    if sum(p.default for p in printers) > 1:
        raise FarmctlError(f"{path}: more than one printer is marked default")
    if "mqtt" in farm_wide and RESERVED_TOPIC_LEVEL in seen:
        raise locate.error(f"a printer may not be named {RESERVED_TOPIC_LEVEL!r} with MQTT on: "
                           f"{farm_wide['mqtt'].base_topic}/{RESERVED_TOPIC_LEVEL}/ holds the nodes' last wills",
                           "name", seen[RESERVED_TOPIC_LEVEL])
    return FarmConfig(printers, path, **farm_wide)


def _database(value: Any) -> str:
    url = typed(value, str, "database")
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"database must be a PostgreSQL URL like \"postgresql://farm@db-host/farm\", not "
                         f"{parts.scheme + '://...' if parts.scheme else repr(url)} (without it, each node keeps its "
                         f"queue in its data folder's {DATABASE_NAME})")
    return url


_FARM_WIDE = {
    "max_upload_mb": ("max_upload", _max_upload),
    "database": ("database", _database),
    "node": ("node", lambda v: name(v, "node")),
    "node_timeout": ("node_timeout", lambda v: float(within(typed(v, (int, float), "node_timeout"), 1 <= v <= 3600,
                                                           f"node_timeout must be 1 to 3600 seconds, not {v}"))),
    "node_url": ("node_url", node_url),
    "shared_uploads": ("shared_uploads", shared_uploads),
    "mqtt": ("mqtt", parse_mqtt),
    "serial_workers": ("serial_workers", lambda v: within(typed(v, int, "serial_workers"), 0 <= v <= MAX_SERIAL_WORKERS,
                                                         f"serial_workers must be 0 to {MAX_SERIAL_WORKERS}, not {v}")),
    "serial_gather_ms": ("serial_gather", lambda v: within(typed(v, (int, float), "serial_gather_ms"), 0 <= v <= MAX_GATHER_MS,
                                                           f"serial_gather_ms must be 0 to {MAX_GATHER_MS}, not {v}") / 1000),
}


def _farm_wide(data: dict[str, Any], locate: _Locator) -> dict[str, Any]:
    """The keys before the printer tables, as FarmConfig's fields."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "printers":
            continue
        if key not in _FARM_WIDE:
            raise locate.error(f"unknown top-level key {key!r} (farm.toml holds {', '.join(_FARM_WIDE)} "
                               "and [[printers]] tables)", key)
        field_name, check = _FARM_WIDE[key]
        try:
            values[field_name] = check(value)
        except ValueError as exc:
            raise locate.error(str(exc), key) from None
    return values
