"""A node's last will, and a broker that goes away: ``farmctl serve`` as the operator runs it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_helpers import Broker, subscribed

from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.mqtt.publisher import MqttPublisher
from farmctl.printer import JobOutcome

pytestmark = pytest.mark.timeout(60)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(root: Path, farm_toml: str) -> subprocess.Popen[bytes]:
    (root / "farm.toml").write_text(farm_toml)
    with open(root / "serve.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "farmctl", "serve", "--config", str(root / "farm.toml"),
                                 "--data", str(root / "data"), "--port", str(_free_port()), "--sim-speed", "fast"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def test_kill_9_of_a_node_leaves_its_retained_last_will(tmp_path: Path, broker: Broker) -> None:
    will = f"{broker.base_topic}/mqtt/pi-7"
    config = broker.toml() + 'node = "pi-7"\n[[printers]]\nname = "left"\nport = "sim"\nprofile = "marlin2"\n'
    async with subscribed(broker, f"{broker.base_topic}/#") as sub:
        server = _serve(tmp_path, config)
        try:
            await sub.wait_for(lambda s: (m := s.last(will)) and m.text == "connected", 15,
                               f"the node to say connected:\n{(tmp_path / 'serve.log').read_text()}")
            await sub.wait_for(lambda s: s.last(f"{broker.base_topic}/left/event/PrinterStateChanged"), 10,
                               "the printer's state")
            server.send_signal(signal.SIGKILL)
            server.wait(5)
            # The broker notices the closed connection and publishes the will: nobody said goodbye.
            await sub.wait_for(lambda s: (m := s.last(will)) and m.text == "disconnected", 10, "the last will")
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(5)
    async with subscribed(broker, f"{broker.base_topic}/mqtt/#") as later:  # Home Assistant starting later
        await later.wait_for(lambda s: s.last(will), 5, "the retained will")
    assert later.last(will).text == "disconnected" and later.last(will).retain


async def test_a_broker_that_goes_away_costs_telemetry_never_a_print(tmp_path: Path, broker: Broker) -> None:
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.skip("needs Debian's mosquitto to start and stop a broker of its own (.ci/run installs it)")
    port = _free_port()
    (tmp_path / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    own = Broker("127.0.0.1", port, broker.base_topic, broker.discovery_prefix)

    def start_broker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    config = FarmConfig(printers=(PrinterConfig("p1", "sim", profile="marlin2"),), node="n1")
    uploads = tmp_path / "data" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "a.gcode").write_text("M117 A\n" + "G1 X1\n" * 50)
    mosquitto: subprocess.Popen[bytes] | None = None
    async with Farm.running(config, tmp_path / "data", sim=SimOptions(full_speed=True, time_scale=0.0)) as farm:
        publisher = MqttPublisher(farm, own.config(), "n1", first_retry=0.1)
        await publisher.start()
        try:
            entry = farm.printers["p1"]
            while entry.printer.state.value != "Operational":
                await asyncio.sleep(0.05)
            # No broker at all: the farm prints as ever.
            result = await asyncio.wait_for(await farm.start_print(entry, uploads / "a.gcode"), 10)
            assert result.outcome is JobOutcome.DONE and not publisher.connected.is_set()

            mosquitto = start_broker()
            await asyncio.wait_for(publisher.connected.wait(), 10)
            mosquitto.send_signal(signal.SIGKILL)  # the broker dies under a connected node
            mosquitto.wait(5)
            result = await asyncio.wait_for(await farm.start_print(entry, uploads / "a.gcode"), 10)
            assert result.outcome is JobOutcome.DONE
            await asyncio.sleep(0.3)
            assert not publisher.connected.is_set()

            mosquitto = start_broker()  # back: the node reconnects and says where it is, retained
            await asyncio.wait_for(publisher.connected.wait(), 15)
            async with subscribed(own, f"{own.base_topic}/#") as sub:
                await sub.wait_for(lambda s: s.last(f"{own.base_topic}/p1/progress/printing"), 5, "the progress")
            assert sub.last(f"{own.base_topic}/mqtt/n1").text == "connected"
            assert sub.last(f"{own.base_topic}/p1/progress/printing").json["progress"] == 100
            assert sub.last(f"{own.base_topic}/p1/event/PrinterStateChanged").json["state_string"] == "Operational"
        finally:
            await publisher.close()
            if mosquitto is not None:
                mosquitto.kill()
                mosquitto.wait(5)
