"""What the node publishes, without a broker: only changes go out, as the OctoPrint-MQTT plugin sends them."""

from __future__ import annotations

import json

from farmctl.mqtt.messages import Heater, Layout, PrinterTelemetry, event_message

LAYOUT = Layout("octoPrint", "pi-1", "homeassistant")


def test_a_temperature_goes_out_when_it_moved_by_a_tenth_of_a_degree_or_its_target_changed() -> None:
    telemetry = PrinterTelemetry("p1")
    first = telemetry.temperatures(LAYOUT, [Heater("tool0", 24.0, 0.0), Heater("bed", 0.0, 0.0)], 100.0)
    assert [(m.topic, json.loads(m.payload), m.retain) for m in first] == [
        ("octoPrint/p1/temperature/tool0", {"actual": 24.0, "target": 0.0, "_timestamp": 100}, True)]
    assert telemetry.temperatures(LAYOUT, [Heater("tool0", 24.05, 0.0)], 101.0) == []
    assert len(telemetry.temperatures(LAYOUT, [Heater("tool0", 24.1, 0.0)], 102.0)) == 1
    assert len(telemetry.temperatures(LAYOUT, [Heater("tool0", 24.1, 200.0)], 103.0)) == 1
    assert telemetry.temperatures(LAYOUT, [Heater("tool0", 24.15, 200.0)], 104.0) == []


def test_progress_goes_out_when_the_whole_percentage_or_the_file_changes() -> None:
    telemetry = PrinterTelemetry("p1")
    sent = [telemetry.progress_of(LAYOUT, path, fraction, 5.0)
            for path, fraction in [("a.gcode", 0.0), ("a.gcode", 0.004), ("a.gcode", 0.41), ("a.gcode", 0.412),
                                   ("a.gcode", 1.0), ("b.gcode", 1.0)]]
    payloads = [json.loads(m.payload) for batch in sent for m in batch]
    assert [(p["path"], p["progress"]) for p in payloads] == [("a.gcode", 0), ("a.gcode", 41), ("a.gcode", 100),
                                                              ("b.gcode", 100)]
    assert all(m.topic == "octoPrint/p1/progress/printing" and m.retain for batch in sent for m in batch)


def test_events_carry_the_plugins_fields_and_only_the_state_is_retained() -> None:
    started = event_message(LAYOUT, "p1", "PrintStarted", {"path": "a.gcode"}, 7.9)
    assert (started.topic, json.loads(started.payload), started.retain) == (
        "octoPrint/p1/event/PrintStarted", {"path": "a.gcode", "_event": "PrintStarted", "_timestamp": 7}, False)
    assert event_message(LAYOUT, "p1", "PrinterStateChanged", {}, 0).retain
    assert LAYOUT.will_message("disconnected").retain
