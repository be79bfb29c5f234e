"""What a node publishes, as the OctoPrint-MQTT plugin lays it out, one subtree per printer.

- ``<base>/<printer>/event/<Event>``: the event's OctoPrint payload plus ``_event`` and ``_timestamp``.
  Not retained, as in the plugin, except ``PrinterStateChanged``: a Home Assistant state sensor
  must read the current state when it subscribes, not wait for the next change.
- ``<base>/<printer>/progress/printing``: ``{location, path, progress (0-100), _timestamp}``, retained,
  sent when the whole percentage changes.
- ``<base>/<printer>/temperature/<tool0|bed|...>``: ``{actual, target, _timestamp}``, retained, sent when
  a value moved by the plugin's threshold (0.1 degrees).
- ``<base>/mqtt/<node>``: ``connected``, and the node's retained last will ``disconnected``. One
  connection per node, so one will: every printer of the node is available or not with it.
- ``<discovery_prefix>/sensor/<device>/<sensor>/config``: Home Assistant discovery, retained.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from farmctl import __version__

CONNECTED = "connected"
DISCONNECTED = "disconnected"
TEMPERATURE_THRESHOLD = 0.1
"""Degrees a reading must move before it is published again (the plugin's ``temperatureThreshold``)."""
RETAINED_EVENTS = frozenset({"PrinterStateChanged"})


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: str
    retain: bool = False
    qos: int = 0


@dataclass(frozen=True, slots=True)
class Layout:
    """The topics of one node: ``base`` is the plugin's base topic without its trailing slash."""

    base: str
    node: str
    discovery_prefix: str

    def printer(self, printer: str, *levels: str) -> str:
        return "/".join((self.base, printer, *levels))

    @property
    def will(self) -> str:
        return f"{self.base}/mqtt/{self.node}"

    def will_message(self, status: str) -> Message:
        return Message(self.will, status, retain=True, qos=1)


def _stamped(payload: Mapping[str, Any], now: float, **extra: Any) -> str:
    return json.dumps({**payload, **extra, "_timestamp": int(now)})


def event_message(layout: Layout, printer: str, event: str, payload: Mapping[str, Any], now: float) -> Message:
    return Message(layout.printer(printer, "event", event), _stamped(payload, now, _event=event),
                   retain=event in RETAINED_EVENTS)


@dataclass(frozen=True, slots=True)
class Heater:
    """One heater's reading as OctoPrint names it (``tool0``, ``bed``)."""

    name: str
    actual: float | None
    target: float | None


@dataclass(slots=True)
class PrinterTelemetry:
    """What was last published for one printer, so that only changes go out, as the plugin does."""

    printer: str
    heaters: dict[str, Heater] = field(default_factory=dict)
    progress: tuple[str, int] | None = None

    def temperatures(self, layout: Layout, readings: Iterable[Heater], now: float) -> list[Message]:
        out = []
        for reading in readings:
            if not (reading.actual or reading.target):
                continue  # a heater that reads nothing (the plugin skips these too)
            last = self.heaters.get(reading.name)
            if last is not None and not (_moved(last.actual, reading.actual) or _moved(last.target, reading.target)):
                continue
            self.heaters[reading.name] = reading
            out.append(Message(layout.printer(self.printer, "temperature", reading.name),
                               _stamped({"actual": reading.actual, "target": reading.target}, now), retain=True))
        return out

    def progress_of(self, layout: Layout, path: str, fraction: float, now: float) -> list[Message]:
        current = (path, min(100, max(0, int(round(fraction * 100)))))
        if current == self.progress:
            return []
        self.progress = current
        return [Message(layout.printer(self.printer, "progress", "printing"),
                        _stamped({"location": "local", "path": path, "progress": current[1]}, now), retain=True)]


def _moved(before: float | None, now: float | None) -> bool:
    return abs((now or 0.0) - (before or 0.0)) >= TEMPERATURE_THRESHOLD


# -- Home Assistant discovery --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PrinterDevice:
    """What Home Assistant shows of one printer: its device card and a sensor per heater."""

    name: str
    display_name: str
    model: str
    heaters: tuple[str, ...]


def _device_id(kind: str, name: str) -> str:
    """``farmctl_printer_<name>`` or ``farmctl_node_<name>``: names are ``[A-Za-z0-9_-]``, as discovery
    topics and unique ids need, and the kind keeps a printer and a node of the same name apart."""
    return f"farmctl_{kind}_{name}"


_ORIGIN = {"name": "farmctl", "sw_version": __version__}


def discovery_messages(layout: Layout, printers: Iterable[PrinterDevice]) -> list[Message]:
    """Every sensor's retained config: the node's status, and per printer its state, progress and heaters.

    A printer's sensors are available while the node's last will says ``connected``, so a node that
    dies takes its printers with it in Home Assistant."""
    node_device = {"identifiers": [_device_id("node", layout.node)], "name": f"farmctl {layout.node}",
                   "manufacturer": "farmctl", "model": "farmctl node", "sw_version": __version__}
    out = [_config(layout, _device_id("node", layout.node), "status", {
        "name": "Status", "state_topic": layout.will, "icon": "mdi:lan-connect", "device": node_device})]
    availability = {"availability_topic": layout.will, "payload_available": CONNECTED,
                    "payload_not_available": DISCONNECTED}
    for printer in printers:
        device_id = _device_id("printer", printer.name)
        device = {"identifiers": [device_id], "name": printer.display_name, "manufacturer": "farmctl",
                  "model": printer.model, "sw_version": __version__, "via_device": node_device["identifiers"][0]}
        sensors: dict[str, dict[str, Any]] = {
            "state": {"name": "State", "state_topic": layout.printer(printer.name, "event", "PrinterStateChanged"),
                      "value_template": "{{ value_json.state_string }}", "icon": "mdi:printer-3d"},
            "progress": {"name": "Progress", "state_topic": layout.printer(printer.name, "progress", "printing"),
                         "value_template": "{{ value_json.progress }}", "unit_of_measurement": "%",
                         "state_class": "measurement", "json_attributes_topic":
                             layout.printer(printer.name, "progress", "printing"), "icon": "mdi:progress-clock"},
        }
        for heater in printer.heaters:
            topic = layout.printer(printer.name, "temperature", heater)
            sensors[heater] = {"name": _heater_name(heater), "state_topic": topic,
                               "value_template": "{{ value_json.actual }}", "json_attributes_topic": topic,
                               "device_class": "temperature", "unit_of_measurement": "°C",
                               "state_class": "measurement"}
        for sensor, config in sensors.items():
            out.append(_config(layout, device_id, sensor, {**config, **availability, "device": device}))
    return out


def _heater_name(heater: str) -> str:
    if heater == "bed":
        return "Bed temperature"
    return f"Nozzle {heater.removeprefix('tool')} temperature" if heater != "tool0" else "Nozzle temperature"


def _config(layout: Layout, device_id: str, sensor: str, config: dict[str, Any]) -> Message:
    body = {**config, "unique_id": f"{device_id}_{sensor}", "origin": _ORIGIN}
    return Message(f"{layout.discovery_prefix}/sensor/{device_id}/{sensor}/config", json.dumps(body),
                   retain=True, qos=1)
