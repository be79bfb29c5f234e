"""The real ``octorest`` client against a printer's own port: what a Python script written for
OctoPrint does, and what reaches the simulated firmware."""

from __future__ import annotations

import io

import pytest
import requests
from octoprint_helpers import SMALL_GCODE, long_gcode
from octorest import OctoRest

from farmctl.printer import PrinterState


def client(server, name: str = "p1", role: str = "admin") -> OctoRest:
    return OctoRest(url=server.urls[name], apikey=server.keys[role])


def commands(server, name: str = "p1") -> list[str]:
    return [record.command for record in server.sim(name).executed]


def upload(octo: OctoRest, name: str, data: bytes) -> dict:
    return octo.upload((name, io.BytesIO(data)))


def test_version_and_connection(server):
    octo = client(server)
    assert octo.version["text"].startswith("OctoPrint")
    info = octo.connection_info()
    assert info["current"]["state"] == "Operational"
    assert info["options"]["printerProfiles"][0]["id"] == info["current"]["printerProfile"]

    octo.disconnect()
    assert server.state("p1") == PrinterState.OFFLINE
    assert octo.connection_info()["current"]["state"] == "Closed"  # OctoPrint 1.11.8 after a disconnect
    with pytest.raises(RuntimeError, match="409"):
        octo.printer()
    with pytest.raises(RuntimeError, match="409"):
        octo.gcode("M105")

    octo.connect()
    assert server.state("p1") == PrinterState.OPERATIONAL
    assert octo.printer()["state"]["flags"]["operational"] is True
    assert server.state("p2") == PrinterState.OPERATIONAL  # the other printer never noticed


def test_upload_select_and_print(server):
    octo = client(server)
    result = upload(octo, "part.gcode", SMALL_GCODE)
    assert result["done"] is True and result["files"]["local"]["path"] == "part.gcode"
    octo.select("part.gcode", print=True)
    server.wait_for(lambda: "G1 X10 Y40 E1.5" in commands(server), what="the file's moves on the firmware")
    server.wait_state("p1", PrinterState.OPERATIONAL)
    job = octo.job_info()
    assert job["job"]["file"]["name"] == "part.gcode"
    assert job["progress"]["completion"] == 100
    assert "G1 X40 Y10 E1.5 F1200" in commands(server)
    assert not any("X40 Y10" in c for c in commands(server, "p2"))


def test_pause_resume_cancel(server):
    octo = client(server)
    upload(octo, "long.gcode", long_gcode())
    octo.select("long.gcode")
    octo.start()
    assert server.state("p1") in (PrinterState.PRINTING, PrinterState.OPERATIONAL)
    octo.pause()
    server.wait_state("p1", PrinterState.PAUSED)
    assert octo.job_info()["state"] == "Paused"
    assert octo.printer()["state"]["flags"]["paused"] is True
    with pytest.raises(RuntimeError, match="409"):
        octo.jog(x=10)
    with pytest.raises(RuntimeError, match="409"):
        octo.extrude(5)
    with pytest.raises(RuntimeError, match="409"):
        octo.delete("long.gcode")
    executed = len(commands(server))
    octo.resume()
    assert server.state("p1") == PrinterState.PRINTING
    server.wait_for(lambda: len(commands(server)) > executed + 10, what="printing after resume")
    octo.cancel()
    server.wait_state("p1", PrinterState.OPERATIONAL)
    assert "M104 S0" in commands(server)[-5:]  # the cooldown after a cancel
    with pytest.raises(RuntimeError, match="409"):
        octo.cancel()
    with pytest.raises(RuntimeError, match="409"):
        octo.pause()


def test_temperatures_reach_the_firmware(server):
    octo = client(server)
    octo.tool_target(210)
    octo.bed_target(60)
    sim = server.sim("p1")
    assert sim.inspect(lambda fw: fw.hotend.target) == 210
    assert sim.inspect(lambda fw: fw.bed.target) == 60
    server.wait_for(lambda: octo.printer()["temperature"].get("tool0", {}).get("target") == 210,
                    what="the target in a temperature report")
    state = octo.printer(history=True, limit=5)
    assert state["temperature"]["bed"]["target"] == 60
    assert 1 <= len(state["temperature"]["history"]) <= 5
    assert {"time", "tool0", "bed"} <= set(state["temperature"]["history"][-1])
    assert "temperature" not in octo.printer(exclude=["temperature"])


def test_arbitrary_commands_jog_and_home(server):
    octo = client(server)
    octo.gcode("M117 hello farm")
    octo.gcode(["G28 X", "G1 X5 F3000"])
    octo.home(["x", "y"])
    octo.jog(x=10, z=1)
    octo.feedrate(90)
    done = commands(server)
    for expected in ("M117 hello farm", "G28 X", "G1 X5 F3000", "G28 X Y", "G91", "G0 X10 Z1", "G90", "M220 S90"):
        assert expected in done
    assert done.index("G91") < done.index("G0 X10 Z1") < len(done) - done[::-1].index("G90")
    with pytest.raises(RuntimeError, match="400"):
        octo.gcode("G1 X1*42")


def test_files_list_info_copy_move_delete_download(server):
    octo = client(server)
    upload(octo, "a.gcode", SMALL_GCODE)
    listing = octo.files()
    assert listing["free"] > 0 and listing["total"] > 0
    [record] = listing["files"]
    assert record["name"] == "a.gcode" and record["type"] == "machinecode"
    assert record["typePath"] == ["machinecode", "gcode"] and record["origin"] == "local"
    assert record["refs"]["download"].endswith("/downloads/files/local/a.gcode")
    assert record["gcodeAnalysis"]["filament"]["tool0"]["length"] == pytest.approx(6.0)
    assert octo.files_info("local", "a.gcode")["hash"] == record["hash"]

    octo.copy("a.gcode", "b.gcode")
    octo.new_folder("parts")  # octorest sends JSON
    octo.move("b.gcode", "parts")
    names = {f["path"] for f in octo.files(recursive=True)["files"]}
    assert names == {"a.gcode", "parts"}
    nested = octo.files("local", recursive=True)["files"]
    folder = next(f for f in nested if f["type"] == "folder")
    assert [c["path"] for c in folder["children"]] == ["parts/b.gcode"]

    url = record["refs"]["download"]
    whole = requests.get(url, headers=server.headers("viewer"))
    assert whole.status_code == 200 and whole.content == SMALL_GCODE
    part = requests.get(url, headers=server.headers("viewer") | {"Range": "bytes=2-7"})
    assert part.status_code == 206 and part.content == SMALL_GCODE[2:8]

    octo.delete("a.gcode")
    octo.delete("parts")
    assert octo.files()["files"] == []
    with pytest.raises(RuntimeError, match="404"):
        octo.delete("a.gcode")


def test_settings_profiles_and_system_commands(server):
    octo = client(server)
    settings = octo.settings()
    assert settings["api"]["key"] != server.keys["admin"]
    assert settings["feature"]["sdSupport"] is True  # the simulated printer has an SD card slot
    assert {"webcamEnabled", "streamUrl", "snapshotUrl"} <= set(settings["webcam"])
    other = client(server, "p2").settings()
    uuid1, uuid2 = settings["plugins"]["discovery"]["upnpUuid"], other["plugins"]["discovery"]["upnpUuid"]
    assert uuid1 != uuid2
    assert octo.settings({"appearance": {"name": "Left Prusa"}})["appearance"]["name"] == "Left Prusa"
    assert octo.settings()["plugins"]["discovery"]["upnpUuid"] == uuid1  # stable: the name in farm.toml

    profiles = octo.printer_profiles()["profiles"]
    [current] = [p for p in profiles.values() if p["current"]]
    assert current["volume"]["width"] == 220 and current["heatedBed"] is True
    assert current["extruder"]["count"] == 1

    assert {c["action"] for c in octo.system_commands()["core"]} >= {"shutdown", "reboot"}
    with pytest.raises(RuntimeError, match="400"):
        octo.execute_system_command("core", "shutdown")
    with pytest.raises(RuntimeError, match="404"):
        octo.execute_system_command("core", "selfdestruct")


def test_restart_toggle_and_tool_commands(server):
    octo = client(server)
    octo.extrude(2)
    octo.tool_select(0)
    octo.flowrate(95)
    done = commands(server)
    assert "G1 E2 F300" in done and "T0" in done and "M221 S95" in done
    upload(octo, "long.gcode", long_gcode())
    octo.select("long.gcode", print=True)
    with pytest.raises(RuntimeError, match="409"):
        octo.restart()  # only a paused print restarts
    octo.toggle()
    server.wait_state("p1", PrinterState.PAUSED)
    octo.restart()
    assert server.state("p1") == PrinterState.PRINTING
    octo.toggle()
    server.wait_state("p1", PrinterState.PAUSED)
    octo.toggle()
    assert server.state("p1") == PrinterState.PRINTING
    octo.cancel()
    server.wait_state("p1", PrinterState.OPERATIONAL)


OFFSET_GCODE = b"M140 S60\nM104 S200\nG28\nG1 Z0.2 F600\nG1 X10 Y10 F3000\nM104 S0\nM140 S0\n"
REFUSED_OFFSETS = [
    ("tool", {"command": "offset"}),
    ("tool", {"command": "offset", "offsets": {}}),
    ("tool", {"command": "offset", "offsets": [10]}),
    ("tool", {"command": "offset", "offsets": {"tool0": 51}}),
    ("tool", {"command": "offset", "offsets": {"tool0": "3"}}),
    ("tool", {"command": "offset", "offsets": {"tool0": True}}),
    ("tool", {"command": "offset", "offsets": {"tool0": 3, "tool1": 3}}),  # a good value next to an unknown tool
    ("tool", '{"command": "offset", "offsets": {"tool0": NaN}}'),
    ("bed", {"command": "offset"}),
    ("bed", {"command": "offset", "offset": -50.5}),
    ("bed", {"command": "offset", "offset": "3"}),
    ("bed", {"command": "offset", "offset": None}),
    ("bed", '{"command": "offset", "offset": Infinity}'),
]


def shown_offsets(octo: OctoRest) -> tuple[float, float]:
    temperature = octo.printer()["temperature"]
    return temperature["tool0"]["offset"], temperature["bed"]["offset"]


def test_temperature_offsets_are_shown_and_shift_the_files_targets(server):
    octo = client(server)
    octo.tool_offset(10)
    octo.bed_offset(-5)
    other = client(server, "p2")
    for printer in (octo, other):
        server.wait_for(lambda: "tool0" in printer.printer()["temperature"], what="a temperature report")
    assert shown_offsets(octo) == (10, -5) and shown_offsets(other) == (0, 0)

    for where, body in REFUSED_OFFSETS:
        kw = {"data": body, "headers": server.headers() | {"Content-Type": "application/json"}} \
            if isinstance(body, str) else {"json": body, "headers": server.headers()}
        response = requests.post(f"{server.urls['p1']}/api/printer/{where}", timeout=10, **kw)
        assert response.status_code == 400, (body, response.text)
        assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert shown_offsets(octo) == (10, -5)

    upload(octo, "hot.gcode", OFFSET_GCODE)
    octo.select("hot.gcode", print=True)
    server.wait_for(lambda: "M140 S0" in commands(server), what="the end of the print")
    heating = [c for c in commands(server) if c.startswith(("M104", "M140"))]
    assert heating[-4:] == ["M140 S55", "M104 S210", "M104 S0", "M140 S0"]  # off stays off
    assert server.sim("p1").inspect(lambda fw: fw.hotend.target) == 0

    octo.tool_offset(0)
    assert shown_offsets(octo) == (0, -5)
