"""Temperature offsets set through OctoPrint's tool and bed commands are kept per printer across a
restart of ``farmctl serve`` (a printer's heater calibration should not vanish with a power cut)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from server_helpers import wait_until

if TYPE_CHECKING:  # the fixtures' type; each folder's conftest is its own module
    from server_helpers import ServerProcess

pytestmark = pytest.mark.timeout(45)


def offsets(server: ServerProcess, printer: str) -> tuple[float, float] | None:
    """(tool0, bed) offsets from GET /api/printer, or None until the printer is operational."""
    response = requests.get(f"{server.url}/printers/{printer}/api/printer", timeout=10,
                            headers={"X-Api-Key": server.keys["admin"]})
    temperature = response.json().get("temperature", {}) if response.status_code == 200 else {}
    if "tool0" not in temperature:
        return None
    return temperature["tool0"]["offset"], temperature["bed"]["offset"]


def post(server: ServerProcess, printer: str, where: str, body: dict) -> None:
    response = requests.post(f"{server.url}/printers/{printer}/api/printer/{where}", json=body, timeout=10,
                             headers={"X-Api-Key": server.keys["admin"]})
    assert response.status_code == 204, response.text


def test_offsets_survive_a_restart_per_printer(farm2: ServerProcess) -> None:
    for printer in ("p1", "p2"):
        wait_until(lambda: offsets(farm2, printer), 15, f"{printer} to report temperatures")
    post(farm2, "p1", "tool", {"command": "offset", "offsets": {"tool0": 5}})
    post(farm2, "p1", "bed", {"command": "offset", "offset": -3})
    post(farm2, "p1", "tool", {"command": "offset", "offsets": {"tool0": 0}})  # 0: no offset any more
    post(farm2, "p2", "tool", {"command": "offset", "offsets": {"tool0": 7.5}})
    assert (offsets(farm2, "p1"), offsets(farm2, "p2")) == ((0, -3), (7.5, 0))

    farm2.stop()
    farm2.start()
    shown = {printer: wait_until(lambda: offsets(farm2, printer), 15, f"{printer} after the restart")
             for printer in ("p1", "p2")}
    assert shown == {"p1": (0, -3), "p2": (7.5, 0)}
