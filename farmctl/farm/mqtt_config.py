"""farm.toml's ``mqtt = { host = ..., ... }``: the broker a node publishes its printers' telemetry to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farmctl.farm.checks import table_keys, typed, within

DEFAULT_BASE_TOPIC = "octoPrint"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
_KEYS = {"host", "port", "username", "password", "base_topic", "discovery", "discovery_prefix", "keepalive"}


@dataclass(frozen=True, slots=True)
class MqttConfig:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    base_topic: str = DEFAULT_BASE_TOPIC
    """The OctoPrint-MQTT plugin's ``baseTopic``; each printer publishes under ``<base_topic>/<printer>/``."""
    discovery: bool = True
    """Announce every printer to Home Assistant (MQTT discovery) under ``discovery_prefix``."""
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    keepalive: int = 60

    def __repr__(self) -> str:  # never the password in a log line
        return f"MqttConfig(host={self.host!r}, port={self.port}, base_topic={self.base_topic!r})"


def _topic_root(value: Any, what: str) -> str:
    """A topic prefix: plain levels, no wildcard, no leading or trailing '/', not a broker's ``$`` topic."""
    text = typed(value, str, what)
    levels = text.split("/")
    return within(text, bool(text) and all(levels) and not text.startswith("$")
                  and not any(c in text for c in "+#\0") and len(text) <= 200,
                  f"{what} {text!r} must be topic levels without wildcards, e.g. \"octoPrint\" or \"farm/octoPrint\"")


def parse_mqtt(raw: Any) -> MqttConfig:
    """The ``mqtt`` table, checked strictly; ValueError names the key."""
    table = table_keys(raw, "mqtt", _KEYS, {"host"})
    checks = {
        "host": lambda v: within(typed(v, str, "mqtt.host"), bool(v.strip()), "mqtt.host must not be empty"),
        "port": lambda v: within(typed(v, int, "mqtt.port"), 1 <= v <= 65535, f"mqtt.port {v} is not a TCP port"),
        "username": lambda v: typed(v, str, "mqtt.username"),
        "password": lambda v: typed(v, str, "mqtt.password"),
        "base_topic": lambda v: _topic_root(v, "mqtt.base_topic"),
        "discovery": lambda v: typed(v, bool, "mqtt.discovery"),
        "discovery_prefix": lambda v: _topic_root(v, "mqtt.discovery_prefix"),
        "keepalive": lambda v: within(typed(v, int, "mqtt.keepalive"), 5 <= v <= 3600,
                                      f"mqtt.keepalive must be between 5 and 3600 seconds, not {v}"),
    }
    values = {key: checks[key](value) for key, value in table.items()}
    if "password" in values and "username" not in values:
        raise ValueError("mqtt.password needs an mqtt.username")
    return MqttConfig(**values)
