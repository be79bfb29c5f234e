"""The push socket with aiohttp's websocket client, as OctoFarm and FDM Monster use it, and SockJS-framed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fixtures' type; each folder's conftest is its own module
    from conftest import PushFarm

from farmctl.farm.farm import printer_event
from farmctl.http import push

pytestmark = pytest.mark.timeout(30)


async def next_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    return await ws.receive_json(timeout=timeout)


async def silent(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> bool:
    """True when nothing arrives for ``seconds``."""
    try:
        message = await ws.receive(timeout=seconds)
    except asyncio.TimeoutError:
        return True
    raise AssertionError(f"expected silence, got {message.data!r}")


async def until_event(ws: aiohttp.ClientWebSocketResponse, kind: str, seen: list[dict[str, Any]],
                      timeout: float = 15.0) -> dict[str, Any]:
    """Read messages (kept in ``seen``) until an event of ``kind``; return its payload."""
    async with asyncio.timeout(timeout):
        while True:
            message = await next_json(ws, timeout)
            seen.append(message)
            if message.get("event", {}).get("type") == kind:
                return message["event"]["payload"]


async def test_auth_throttle_progress_and_print_done(one: PushFarm) -> None:
    await one.ready("p1")
    path = one.moves()
    async with one.client.ws_connect("/sockjs/websocket") as ws:
        connected = (await next_json(ws))["connected"]
        assert connected["version"] == "1.11.8" and connected["online"] is True
        assert connected["safe_mode"] is False and connected["permissions"] == []
        assert await silent(ws, 0.8)  # nothing but "connected" before auth

        await ws.send_json({"throttle": 2})
        await ws.send_json({"auth": one.auth})
        history = (await next_json(ws))["history"]
        assert history["state"]["text"] == "Operational"
        assert history["state"]["flags"]["ready"] is True
        assert isinstance(history["temps"], list) and "progress" in history

        loop = asyncio.get_running_loop()
        first = await next_json(ws)
        t0 = loop.time()
        second = await next_json(ws)
        assert "current" in first and "current" in second
        assert loop.time() - t0 >= 0.8, "throttle 2 means a current message at most every second"

        await ws.send_json({"throttle": 1})
        printing = asyncio.create_task(one.farm.printers["p1"].printer.print_file(path))
        seen: list[dict[str, Any]] = []
        done = await until_event(ws, "PrintDone", seen)
        assert (await printing).outcome.value == "done"

    assert done["path"] == "moves.gcode" and done["name"] == "moves.gcode" and done["origin"] == "local"
    assert done["size"] == path.stat().st_size and done["time"] > 0
    events = [m["event"]["type"] for m in seen if "event" in m]
    assert events.index("PrintStarted") < events.index("PrintDone")
    assert {"type": "PrinterStateChanged", "payload": {"state_id": "PRINTING", "state_string": "Printing"}} \
        in [m["event"] for m in seen if "event" in m]
    currents = [m["current"] for m in seen if "current" in m]
    printing_states = [c for c in currents if c["state"]["flags"]["printing"]]
    completions = [c["progress"]["completion"] for c in printing_states]
    assert len(set(completions)) >= 3, completions
    assert completions == sorted(completions) and 0 <= completions[0] < completions[-1] <= 100
    temps = [entry for c in currents for entry in c["temps"]]
    assert temps and {"time", "tool0", "bed"} <= temps[-1].keys() and temps[-1]["tool0"]["actual"] > 0
    last = printing_states[-1]
    assert last["job"]["file"]["path"] == "moves.gcode" and last["job"]["file"]["date"] > 0
    assert last["job"]["estimatedPrintTime"] > 0 and last["progress"]["printTimeLeftOrigin"] == "analysis"
    assert last["progress"]["printTime"] >= 0 and last["progress"]["filepos"] > 0
    assert set(last["resends"]) == {"count", "transmitted", "ratio"}
    assert {"currentZ", "offsets", "temps", "logs", "messages"} <= last.keys()


async def test_bad_auth_gets_reauth_required_and_nothing_else(one: PushFarm) -> None:
    async with one.client.ws_connect("/sockjs/websocket") as ws:
        assert "connected" in await next_json(ws)
        for bad in ("alice:not-a-session", f"mallory:{one.session}", one.session, 42, ""):
            await ws.send_json({"auth": bad})
            assert await next_json(ws) == {"reauthRequired": {"reason": "stale"}}
        await ws.send_str("not json")
        await ws.send_json(["a list"])
        assert await silent(ws, 0.8)
        # A good session afterwards still works.
        await ws.send_json({"auth": one.auth})
        assert "history" in await next_json(ws)


async def test_ended_session_asks_for_reauth(one: PushFarm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "SESSION_CHECK", 0.2)
    async with one.client.ws_connect("/sockjs/websocket") as ws:
        await next_json(ws)
        await ws.send_json({"auth": one.auth})
        assert "history" in await next_json(ws)
        one.farm.auth.end_session(one.session)
        async with asyncio.timeout(3):
            while "reauthRequired" not in (message := await next_json(ws)):
                pass
        assert message == {"reauthRequired": {"reason": "logout"}}
        assert await silent(ws, 0.8)


async def test_each_printer_socket_sends_its_own_events(two: PushFarm) -> None:
    await two.ready("p1", "p2")  # no PrinterStateChanged from the handshake from here on
    async with two.client.ws_connect("/printers/p1/sockjs/websocket") as ws:
        await next_json(ws)
        two.farm.notify(printer_event("p1", "PrintPaused", {"path": "before-auth"}))
        await ws.send_json({"throttle": 100, "auth": two.auth})
        assert "history" in await next_json(ws)
        two.farm.notify(printer_event("p2", "PrintPaused", {"path": "p2's"}))
        two.farm.notify(printer_event("p1", "PrintPaused", {"path": "p1's"}))
        two.farm.files_changed("FileAdded", "parts/a.gcode")
        events = [(await next_json(ws))["event"] for _ in range(3)]
    assert events == [
        {"type": "PrintPaused", "payload": {"path": "p1's"}},
        {"type": "FileAdded", "payload": {"storage": "local", "path": "parts/a.gcode", "name": "a.gcode",
                                          "type": ["machinecode", "gcode"]}},
        {"type": "UpdatedFiles", "payload": {"type": "printables"}},
    ]


async def test_unknown_printer_and_ambiguous_default_are_404(two: PushFarm) -> None:
    for path in ("/printers/nope/sockjs/websocket", "/sockjs/websocket"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await two.client.ws_connect(path)
        assert refused.value.status == 404, path


async def test_a_client_that_never_reads_does_not_slow_the_farm(one: PushFarm) -> None:
    async with one.client.ws_connect("/sockjs/websocket") as ws:
        await next_json(ws)
        await ws.send_json({"auth": one.auth})
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(20_000):  # far more than any per-connection queue holds
            one.farm.notify(printer_event(None, "UpdatedFiles", {"n": n}))
        assert loop.time() - start < 1.0
        assert len(one.farm._subscribers) == 1 and all(q.qsize() <= q.maxsize for q in one.farm._subscribers)


async def sockjs_messages(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The messages of the next ``a[...]`` frame, skipping heartbeats."""
    while (frame := await ws.receive_str(timeout=5)) == "h":
        pass
    assert frame.startswith("a["), frame
    return json.loads(frame[1:])


async def test_sockjs_framing(one: PushFarm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "HEARTBEAT", 0.3)
    info = await one.client.get("/sockjs/info")
    assert info.status == 200 and (await info.json())["websocket"] is True
    async with one.client.ws_connect("/sockjs/123/abcdefgh/websocket") as ws:
        assert await ws.receive_str(timeout=5) == "o"
        frame = await ws.receive_str(timeout=5)
        assert frame.startswith("a[")
        assert "connected" in json.loads(frame[1:])[0]
        assert await ws.receive_str(timeout=2) == "h"  # heartbeat while idle

        # sockjs-client sends an array of JSON strings.
        await ws.send_str(json.dumps([json.dumps({"auth": "alice:wrong"})]))
        assert await sockjs_messages(ws) == [{"reauthRequired": {"reason": "stale"}}]
        await ws.send_str(json.dumps([json.dumps({"auth": one.auth}), json.dumps({"throttle": 1})]))
        assert "history" in (await sockjs_messages(ws))[0]
        assert "current" in (await sockjs_messages(ws))[0]


async def test_sockjs_accepts_octorests_bare_object(one: PushFarm) -> None:
    async with one.client.ws_connect(f"/printers/p1/sockjs/7/{'x' * 8}/websocket") as ws:
        assert await ws.receive_str(timeout=5) == "o"
        await ws.receive_str(timeout=5)
        await ws.send_str(json.dumps({"auth": one.auth}))  # octorest sends json.dumps(data) as is
        assert "history" in (await sockjs_messages(ws))[0]


async def test_uploads_and_deletes_through_the_octoprint_api_are_pushed(one: PushFarm) -> None:
    await one.ready("p1")
    async with one.client.ws_connect("/sockjs/websocket") as ws:
        await next_json(ws)
        await ws.send_json({"auth": one.auth})
        data = aiohttp.FormData()
        data.add_field("file", b"G28\n", filename="pushed.gcode")
        headers = {"X-Api-Key": one.key}
        response = await one.client.post("/api/files/local", data=data, headers=headers)
        assert response.status == 201
        seen: list[dict[str, Any]] = []
        added = await until_event(ws, "FileAdded", seen)
        assert added["path"] == "pushed.gcode"
        response = await one.client.delete("/api/files/local/pushed.gcode", headers=headers)
        assert response.status == 204
        removed = await until_event(ws, "FileRemoved", seen)
        assert removed["path"] == "pushed.gcode"
        assert "UpdatedFiles" in [m["event"]["type"] for m in seen if "event" in m]


async def until(ws: aiohttp.ClientWebSocketResponse, seen: list[dict[str, Any]], what: str,
                predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
    """Read messages (kept in ``seen``) until one satisfies ``predicate``; fail naming ``what``."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate(message := await next_json(ws, timeout)):
                seen.append(message)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout:.0f}s; last messages: {seen[-2:]}") from None
    seen.append(message)
    return message


def paused_in(script: str) -> Any:
    def check(message: dict[str, Any]) -> bool:
        current = message.get("current") or {}
        return current.get("state", {}).get("text") == "Paused" and current["job"]["file"]["name"] == script
    return check


async def test_queue_event_scripts_are_not_shown_as_prints(one: PushFarm) -> None:
    """After a queued print, the default Print Success (bed clearing) and Queue Finished scripts hold the
    printer with @pause. Clients see the printer paused in a named script, never a print of a temp file;
    once the scripts are done, the socket and /api/job show the same job again: the file the queue printed,
    which it selected, as Continuous Print does in OctoPrint."""
    await one.ready("p1")
    one.moves(count=30)
    headers = {"X-Api-Key": one.key}
    async with one.client.ws_connect("/sockjs/websocket") as ws:
        await next_json(ws)
        await ws.send_json({"auth": one.auth})
        seen: list[dict[str, Any]] = []
        await until(ws, seen, "history", lambda m: "history" in m)
        added = await one.client.post("/plugin/continuousprint/set/add", headers=headers, data={
            "path": "moves.gcode", "sd": "false", "count": "1", "jobName": "J", "jobDraft": "false"})
        assert added.status == 200, await added.text()
        active = await one.client.post("/plugin/continuousprint/set_active", headers=headers, data={"active": "true"})
        assert active.status == 200, await active.text()

        for script in ("Print Success script", "Queue Finished script"):
            await until(ws, seen, f"the printer paused in the {script}", paused_in(script))
            job = await (await one.client.get("/api/job", headers=headers)).json()
            assert job["state"] == "Paused"
            assert (job["job"]["file"]["name"], job["job"]["file"]["path"]) == (script, None)
            resumed = await one.client.post("/api/job", headers=headers, json={"command": "pause", "action": "resume"})
            assert resumed.status == 204
        await until(ws, seen, "the queue idle again", lambda m: m.get("event", {}).get("payload", {}).get(
            "state_id") == "OPERATIONAL")
        idle = (await until(ws, seen, "a current once idle", lambda m: "current" in m))["current"]
        job = await (await one.client.get("/api/job", headers=headers)).json()
        assert idle["state"]["text"] == job["state"] == "Operational"
        assert (idle["job"], idle["progress"]) == (job["job"], job["progress"])
        assert job["job"]["file"]["path"] == "moves.gcode" and job["job"]["estimatedPrintTime"] > 0

    events = [m["event"] for m in seen if "event" in m]
    prints = [(e["type"], e["payload"].get("path")) for e in events
              if e["type"].startswith("Print") and e["type"] != "PrinterStateChanged"]
    assert prints == [("PrintStarted", "moves.gcode"), ("PrintDone", "moves.gcode")]
    states = [e["payload"]["state_id"] for e in events if e["type"] == "PrinterStateChanged"]
    assert states.count("PAUSED") == 2  # each script's hold is visible as the printer's state
    assert "continuousprint_" not in json.dumps(seen)  # no temporary script file is ever named


def layers(count: int = 5, moves: int = 16) -> str:
    """A file that heats, then rises 0.2 mm per layer with short moves between (about 2 s in all)."""
    lines = ["M104 S200", "G90", "G1 F3000"]
    for layer in range(1, count + 1):
        lines.append(f"G1 Z{0.2 * layer:.1f}")
        lines += [f"G1 X{10 + i % 2} Y{10 + i * 0.1:.1f}" for i in range(moves)]
    return "\n".join(lines) + "\n"


def sent_commands(logs: list[str]) -> list[str]:
    """``Send: N12 G1 X10*34`` -> ``G1 X10`` for the numbered lines of a terminal log."""
    return [line[6:].partition(" ")[2].rpartition("*")[0] for line in logs if line.startswith("Send: N")]


async def reported(farm: PushFarm, name: str, samples: int = 1) -> None:
    """Wait for a printer's first temperature reports (one every two seconds)."""
    printer = farm.farm.printers[name].printer
    async with asyncio.timeout(6):
        while len(printer.temperature_history) < samples:
            await asyncio.sleep(0.05)


async def test_history_then_current_show_temperatures_z_offsets_and_each_terminal_line_once(one: PushFarm) -> None:
    await one.ready("p1")
    await reported(one, "p1", samples=2)
    path = one.farm.uploads_dir / "layers.gcode"
    path.write_text(layers())
    headers = {"X-Api-Key": one.key}
    offset = await one.client.post("/api/printer/tool", headers=headers,
                                   json={"command": "offset", "offsets": {"tool0": 10}})
    assert offset.status == 204, await offset.text()
    shown = await (await one.client.get("/api/printer", headers=headers)).json()
    assert shown["temperature"]["tool0"]["offset"] == 10 and shown["temperature"]["bed"]["offset"] == 0

    async with one.client.ws_connect("/sockjs/websocket") as ws:
        await next_json(ws)
        await ws.send_json({"auth": one.auth})
        seen: list[dict[str, Any]] = []
        history = (await until(ws, seen, "history", lambda m: "history" in m))["history"]
        printing = asyncio.create_task(one.farm.printers["p1"].printer.print_file(path))
        await until_event(ws, "PrintDone", seen)
        assert (await printing).outcome.value == "done"
        await until(ws, seen, "a current after the print", lambda m: m.get("current", {}).get("state", {}).get(
            "text") == "Operational")

    samples = history["temps"]  # what the printer reported before this client came
    assert len(samples) >= 2 and [s["time"] for s in samples] == sorted(s["time"] for s in samples)
    for sample in samples:
        assert set(sample) == {"time", "tool0", "bed"} and set(sample["tool0"]) == {"actual", "target"}
        assert sample["tool0"]["actual"] > 0 and sample["bed"]["actual"] > 0
    assert any(line.startswith("Send: N") and "M115" in line for line in history["logs"])  # the handshake
    assert any(line.startswith("Recv: FIRMWARE_NAME:") for line in history["logs"])
    assert "ok" in history["messages"] and not any(m.startswith("Send") for m in history["messages"])
    assert history["offsets"] == {"tool0": 10, "bed": 0} and history["currentZ"] is None

    currents = [m["current"] for m in seen if "current" in m]
    assert all(c["offsets"] == {"tool0": 10, "bed": 0} for c in currents)
    heights = [c["currentZ"] for c in currents if c["currentZ"] is not None]
    assert heights == sorted(heights) and len(set(heights)) >= 3, heights
    assert currents[-1]["currentZ"] == pytest.approx(1.0)  # the file's last Z
    new_temps = [sample for c in currents for sample in c["temps"]]
    assert new_temps and new_temps[0]["time"] >= samples[-1]["time"] and new_temps[0] != samples[-1]

    logs = history["logs"] + [line for c in currents for line in c["logs"]]
    numbered = [line for line in logs if line.startswith("Send: N")]
    assert len(numbered) == len(set(numbered)), "a terminal line reached the client twice"
    printed = [c for c in sent_commands(logs) if c != "M105"]
    assert printed[-len(layers().splitlines()):] == ["M104 S210"] + layers().splitlines()[1:]
    assert "Recv: ok" in logs
    for c in currents:  # messages: the received lines, in order, without the direction
        assert c["messages"] == [line[6:] for line in c["logs"] if line.startswith("Recv: ")]
    executed = [e.command for e in one.farm.printers["p1"].sim.executed if e.command.startswith("M104")]
    assert executed[-1] == "M104 S210"


async def test_the_jobs_file_follows_a_new_upload_and_the_selection(one: PushFarm) -> None:
    """The socket remembers the job's upload between messages; a new upload or selection shows at once."""
    await one.ready("p1")
    headers = {"X-Api-Key": one.key}

    async def put(name: str, data: bytes, select: bool) -> None:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name)
        form.add_field("select", "true" if select else "false")
        response = await one.client.post("/api/files/local", data=form, headers=headers)
        assert response.status == 201, await response.text()

    def job_file(name: str, size: int) -> Any:
        return lambda m: m.get("current", {}).get("job", {}).get("file", {}).get("path") == name and \
            m["current"]["job"]["file"]["size"] == size

    async with one.client.ws_connect("/sockjs/websocket") as ws:
        await next_json(ws)
        await ws.send_json({"auth": one.auth, "throttle": 1})
        seen: list[dict[str, Any]] = []
        await put("a.gcode", b"G28\n", select=True)
        await until(ws, seen, "a.gcode as the job", job_file("a.gcode", 4), timeout=3)
        await put("a.gcode", b"G28\nG1 X5\n", select=False)  # replaced under the same name
        await until(ws, seen, "the new a.gcode", job_file("a.gcode", 10), timeout=3)
        await put("b.gcode", b"G1 X1\n", select=True)
        await until(ws, seen, "b.gcode as the job", job_file("b.gcode", 6), timeout=3)

        sim = one.farm.printers["p1"].sim  # a file of the printer's SD card selected instead
        assert sim is not None
        sim.inspect(lambda fw: fw.sd.add("card part.gcode", b"G28\nG1 X2\n"))
        response = await one.client.post("/api/printer/sd", json={"command": "refresh"}, headers=headers)
        assert response.status == 204, await response.text()
        response = await one.client.post("/api/files/sdcard/card part.gcode", json={"command": "select"},
                                         headers=headers)
        assert response.status == 204, await response.text()
        message = await until(ws, seen, "the card's file as the job", job_file("CARDPA~1.GCO", 10), timeout=3)
        assert message["current"]["job"]["file"]["origin"] == "sdcard"
        assert message["current"]["job"]["file"]["display"] == "card part.gcode"
        assert message["current"]["state"]["flags"]["sdReady"] is True
        await put("b.gcode", b"G1 X1\n", select=True)  # and an upload again: the card's file is no longer the job
        message = await until(ws, seen, "b.gcode as the job again", job_file("b.gcode", 6), timeout=3)
        assert message["current"]["job"]["file"]["origin"] == "local"


async def test_a_firmware_prompt_is_pushed_as_octoprints_prompt_plugin_message(two: PushFarm) -> None:
    """What OctoPrint's own client shows as a dialog: ``show`` with the choices, then ``close`` once answered."""
    await two.ready("p1", "p2")
    headers = {"X-Api-Key": two.key}
    async with two.client.ws_connect("/printers/p1/sockjs/websocket") as ws, \
            two.client.ws_connect("/printers/p2/sockjs/websocket") as other:
        for socket in (ws, other):
            await next_json(socket)
            await socket.send_json({"auth": two.auth})
            await until(socket, [], "a current after the auth", lambda m: "current" in m)  # listening now
        sim = two.farm.printers["p1"].sim
        assert sim is not None
        sim.prompt("Filament changed?", ("Purge more", "Continue"))
        seen: list[dict[str, Any]] = []
        shown = await until(ws, seen, "the prompt", lambda m: "plugin" in m)
        assert shown["plugin"] == {"plugin": "action_command_prompt", "data": {
            "action": "show", "text": "Filament changed?", "choices": ["Purge more", "Continue"]}}
        answered = await two.client.post("/printers/p1/api/plugin/action_command_prompt", headers=headers,
                                         json={"command": "select", "choice": 1})
        assert answered.status == 204
        closed = await until(ws, seen, "the prompt closing", lambda m: "plugin" in m)
        assert closed["plugin"]["data"] == {"action": "close"}
        others: list[dict[str, Any]] = []
        await until(other, others, "a current from p2", lambda m: "current" in m)
        assert not any("plugin" in m for m in others)  # p2's clients were never asked
        assert sim.prompt_responses == [1]
