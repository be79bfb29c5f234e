"""POST /api/settings appearance.name, as OctoFarm or an OctoPrint app renames a printer: it is kept
per printer across a restart of ``farmctl serve``, and a bad value is a 400 that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fixtures' type; each folder's conftest is its own module
    from server_helpers import ServerProcess

pytestmark = pytest.mark.timeout(45)

REFUSED: list[Any] = [
    {"appearance": {"name": ""}},
    {"appearance": {"name": "   "}},
    {"appearance": {"name": "x" * 101}},
    {"appearance": {"name": "two\nlines"}},
    {"appearance": {"name": 5}},
    {"appearance": {"name": ["Right"]}},
    {"appearance": {"name": "Right", "color": "red"}},  # a good name next to an unchangeable key
    {"appearance": {"name": "Right"}, "webcam": {"webcamEnabled": True}},
    {"appearance": "Right"},
    ["Right"],
]


def names(server: ServerProcess) -> dict[str, tuple[str, str]]:
    """Each printer's name as /api/settings and /api/printerprofiles show it."""
    headers = {"X-Api-Key": server.keys["admin"]}
    shown = {}
    for printer in ("p1", "p2"):
        base = f"{server.url}/printers/{printer}/api"
        settings = requests.get(f"{base}/settings", headers=headers, timeout=10).json()
        [profile] = requests.get(f"{base}/printerprofiles", headers=headers, timeout=10).json()["profiles"].values()
        shown[printer] = (settings["appearance"]["name"], profile["name"])
    return shown


def test_appearance_name_survives_a_restart_and_bad_values_change_nothing(farm2: ServerProcess) -> None:
    url = f"{farm2.url}/printers/p1/api/settings"
    headers = {"X-Api-Key": farm2.keys["admin"]}
    renamed = requests.post(url, headers=headers, json={"appearance": {"name": "  Left MK3 "}}, timeout=10)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["appearance"]["name"] == "Left MK3"
    assert names(farm2) == {"p1": ("Left MK3", "Left MK3"), "p2": ("p2", "p2")}

    for body in REFUSED:
        response = requests.post(url, headers=headers, json=body, timeout=10)
        assert response.status_code == 400, (body, response.text)
        assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert names(farm2) == {"p1": ("Left MK3", "Left MK3"), "p2": ("p2", "p2")}

    uuid = renamed.json()["plugins"]["discovery"]["upnpUuid"]
    farm2.stop()
    farm2.start()
    url = f"{farm2.url}/printers/p1/api/settings"  # a new port
    assert names(farm2) == {"p1": ("Left MK3", "Left MK3"), "p2": ("p2", "p2")}
    settings = requests.get(url, headers=headers, timeout=10).json()
    assert settings["plugins"]["discovery"]["upnpUuid"] == uuid  # Home Assistant's id follows farm.toml, not the name
