"""A print's events, progress and temperatures reach a real MQTT subscriber on the OctoPrint-MQTT
plugin's topics, per printer, and Home Assistant's discovery configs describe every printer.

The farm runs in-process with simulated printers on a quarter of real time, so the print lasts a
few seconds and its temperatures and progress move while it runs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mqtt_helpers import Broker, Subscriber, subscribed

from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.mqtt.publisher import MqttPublisher

pytestmark = pytest.mark.timeout(60)

PRINT = "M104 S200\nM140 S60\n" + "G4 S1\n" * 16 + "M117 done\n"
"""Sixteen one-second dwells: four seconds at a quarter of real time, heaters warming meanwhile."""


@pytest.fixture
async def farm(tmp_path: Path) -> AsyncIterator[Farm]:
    config = FarmConfig(printers=(PrinterConfig("p1", "sim", profile="marlin2"),
                                  PrinterConfig("p2", "sim", profile="marlin2")), node="node-a")
    async with Farm.running(config, tmp_path / "data", sim=SimOptions(full_speed=True, time_scale=0.25)) as farm:
        yield farm


async def _operational(farm: Farm, sub: Subscriber, broker: Broker) -> None:
    for name in farm.printers:
        topic = f"{broker.base_topic}/{name}/event/PrinterStateChanged"
        await sub.wait_for(lambda s, t=topic: (m := s.last(t)) and m.json["state_string"] == "Operational",
                           10, f"{name} operational")


async def test_a_print_is_heard_on_the_plugins_topics(farm: Farm, broker: Broker) -> None:
    base = f"{broker.base_topic}/p1"
    async with subscribed(broker, f"{broker.base_topic}/#") as sub:
        publisher = MqttPublisher(farm, broker.config(), "node-a")
        await publisher.start()
        try:
            await sub.wait_for(lambda s: s.last(f"{broker.base_topic}/mqtt/node-a"), 10, "the node's status")
            assert sub.last(f"{broker.base_topic}/mqtt/node-a").text == "connected"
            await _operational(farm, sub, broker)
            (farm.uploads_dir / "cube.gcode").write_text(PRINT)
            await farm.start_print(farm.printers["p1"], farm.uploads_dir / "cube.gcode")
            await sub.wait_for(lambda s: s.on(f"{base}/event/PrintDone"), 20, "PrintDone")
            await sub.wait_for(lambda s: (m := s.last(f"{base}/progress/printing")) and m.json["progress"] == 100,
                               5, "progress 100")
        finally:
            await publisher.close()

    started = sub.last(f"{base}/event/PrintStarted").json
    assert started["_event"] == "PrintStarted" and isinstance(started["_timestamp"], int)
    assert (started["path"], started["name"], started["origin"]) == ("cube.gcode", "cube.gcode", "local")
    done = sub.last(f"{base}/event/PrintDone").json
    assert done["path"] == "cube.gcode" and done["time"] > 2.0
    states = [m.json["state_string"] for m in sub.on(f"{base}/event/PrinterStateChanged")]
    assert states[-2:] == ["Printing", "Operational"]

    progress = [m.json for m in sub.on(f"{base}/progress/printing")]
    values = [p["progress"] for p in progress]
    assert values == sorted(values) and values[-1] == 100 and len(set(values)) == len(values), values
    assert any(0 < v < 100 for v in values), f"no progress seen while printing: {values}"
    assert all(p["path"] == "cube.gcode" and p["location"] == "local" for p in progress)

    tool = [m.json for m in sub.on(f"{base}/temperature/tool0")]
    bed = [m.json for m in sub.on(f"{base}/temperature/bed")]
    assert tool[-1]["target"] == 200.0 and bed[-1]["target"] == 60.0
    assert tool[-1]["actual"] > tool[0]["actual"], "the nozzle warmed while printing"
    assert all(set(t) == {"actual", "target", "_timestamp"} for t in tool + bed)
    assert not sub.on(f"{broker.base_topic}/p2/event/PrintStarted"), "p2 printed nothing"
    assert sub.last(f"{broker.base_topic}/mqtt/node-a").text == "disconnected", "a clean stop says so"


_TEMPLATE = re.compile(r"^\{\{ value_json\.(\w+) \}\}$")


async def test_home_assistant_discovers_every_printer_and_reads_its_sensors(farm: Farm, broker: Broker) -> None:
    publisher = MqttPublisher(farm, broker.config(), "node-a")
    await publisher.start()
    try:
        async with subscribed(broker, f"{broker.base_topic}/#") as sub:
            await _operational(farm, sub, broker)
            await sub.wait_for(lambda s: len({m.topic for m in s.heard if "/temperature/" in m.topic}) == 4, 10,
                               "both printers' temperatures")
        # Home Assistant starting now gets only what is retained, and must find everything there.
        async with subscribed(broker, f"{broker.discovery_prefix}/#", f"{broker.base_topic}/#") as ha:
            await ha.wait_for(lambda s: len([t for t in s.retained() if t.endswith("/config")]) == 9, 10,
                              "nine discovery configs")
            await ha.wait_for(lambda s: len([t for t in s.retained() if "/temperature/" in t]) == 4, 5,
                              "both printers' retained temperatures")
    finally:
        await publisher.close()

    retained = ha.retained()
    configs = {topic: message.json for topic, message in retained.items() if topic.endswith("/config")}
    will = f"{broker.base_topic}/mqtt/node-a"
    node_status = configs.pop(f"{broker.discovery_prefix}/sensor/farmctl_node_node-a/status/config")
    assert node_status["state_topic"] == will and retained[will].text == "connected"
    sensors = {}
    for topic, config in configs.items():
        prefix, component, device, sensor, _ = topic.split("/")[-5:]
        assert component == "sensor"
        sensors[(device, sensor)] = config
    assert set(sensors) == {(f"farmctl_printer_{p}", s) for p in ("p1", "p2")
                            for s in ("state", "progress", "tool0", "bed")}
    assert len({c["unique_id"] for c in sensors.values()}) == 8
    for (device, sensor), config in sensors.items():
        assert config["availability_topic"] == will
        assert (config["payload_available"], config["payload_not_available"]) == ("connected", "disconnected")
        assert config["device"]["identifiers"] == [device]
        assert config["device"]["via_device"] == "farmctl_node_node-a"
        key = _TEMPLATE.match(config["value_template"]).group(1)
        if sensor == "progress":
            continue  # nothing printed yet: no progress, as in the plugin
        state = retained[config["state_topic"]].json  # what Home Assistant shows at once
        assert key in state, (config["state_topic"], state)
        if sensor == "state":
            assert state[key] == "Operational"
        else:
            assert config["device_class"] == "temperature" and config["unit_of_measurement"] == "°C"
            assert isinstance(state[key], float)
