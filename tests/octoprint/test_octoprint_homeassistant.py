"""Home Assistant's own OctoPrint library, ``pyoctoprintapi`` (aiohttp), against a running farm:
what Home Assistant's integration calls, read back the way its entities show it.

``HomeAssistantView`` does what the integration's coordinator does each poll (``/api/job``, then
``/api/printer``, a 409 meaning "printer offline") and what its sensors, binary sensors and
buttons make of the answers. The firmware simulators say what really reached each printer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import requests
from octoprint_helpers import SMALL_GCODE, FarmServer, long_gcode, printers
from pyoctoprintapi import ApiError, OctoprintApi, OctoprintClient, PrinterOffline
from pyoctoprintapi.exceptions import UnauthorizedException

from farmctl.farm.config import WebcamConfig
from farmctl.printer import PrinterState

# The state texts Home Assistant's status sensor knows (OctoPrint's own); any other shows "Unknown".
HOME_ASSISTANT_STATES = {
    "Opening serial connection": "open_serial", "Detecting serial connection": "detect_serial",
    "Connecting": "connecting", "Operational": "operational", "Starting print from SD": "starting_sd",
    "Starting to send file to SD": "starting_streaming", "Starting": "starting", "Printing from SD": "printing_sd",
    "Sending file to SD": "printing_streaming", "Printing": "printing", "Cancelling": "cancelling",
    "Pausing": "pausing", "Paused": "paused", "Resuming": "resuming", "Finishing": "finishing",
    "Offline": "offline", "Error": "error", "Offline after error": "offline_after_error",
    "Transferring file to SD": "transferring_file",
}
POLL = 0.05


@dataclass(frozen=True)
class HomeAssistantView:
    """One poll, as Home Assistant's entities show it (None: the entity is unavailable or unknown)."""

    status: str | None
    printing: bool | None  # binary sensor "Printing"
    printing_error: bool | None  # binary sensor "Printing Error"
    paused: bool | None
    job_percentage: float | None
    current_file: str | None
    current_file_size: int | None
    temperatures: dict[str, float | None]  # "actual tool0 temp", "target bed temp", ...


async def poll(client: OctoprintClient) -> HomeAssistantView:
    job = await client.get_job_info()
    try:
        printer = await client.get_printer_info()
    except PrinterOffline:
        printer = None
    temperatures: dict[str, float | None] = {}
    for heater in printer.temperatures if printer else ():
        temperatures[f"actual {heater.name} temp"] = heater.actual_temp
        temperatures[f"target {heater.name} temp"] = heater.target_temp
    completion = job.progress.completion
    return HomeAssistantView(
        status=HOME_ASSISTANT_STATES.get(printer.state.text) if printer else None,
        printing=printer.state.flags.printing if printer else None,
        printing_error=printer.state.flags.error if printer else None,
        paused=printer.state.flags.paused if printer else None,
        job_percentage=round(completion, 2) if completion else 0,
        current_file=job.job.file.name or None,
        current_file_size=job.job.file.size or None,
        temperatures=temperatures,
    )


async def until(client: OctoprintClient, check, what: str, timeout: float = 10.0) -> HomeAssistantView:
    """Poll as Home Assistant does until ``check(view)`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await poll(client)
        if check(view):
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"Home Assistant never saw {what}; last saw {view}")
        await asyncio.sleep(POLL)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def home_assistant(server, session: aiohttp.ClientSession, name: str = "p1", role: str = "operator") -> OctoprintClient:
    """Set up as a user does: host and port of the printer's own OctoPrint, path "/"."""
    client = OctoprintClient("127.0.0.1", session, port=port_of(server.urls[name]), path="/")
    client.set_api_key(server.keys[role])
    return client


def farm_decides(server, app: str, allow: bool, role: str = "operator") -> None:
    """What an admin does on the dashboard's Settings page: find the app's request, allow or deny it."""
    admin = server.headers("admin")
    waiting: list[dict] = []

    def asked() -> bool:
        waiting[:] = requests.get(f"{server.main_url}/api/farm/appkeys", headers=admin).json()["requests"]
        return any(r["app"] == app for r in waiting)

    server.wait_for(asked, what=f"{app}'s key request on the dashboard")
    [request] = [r for r in waiting if r["app"] == app]
    assert request["user"] == "homeassistant"
    decided = requests.post(f"{server.main_url}/api/farm/appkeys/{request['id']}", headers=admin,
                            json={"decision": "allow" if allow else "deny", "role": role})
    assert decided.status_code == 204, decided.text


async def test_setup_by_app_key_approved_on_the_dashboard(server, session):
    """The config flow: probe, ask for a key, wait while a person approves it on the farm's page,
    then read the printer's unique id (one device per printer) with the key it got."""
    client = OctoprintClient("127.0.0.1", session, port=port_of(server.urls["p1"]), path="/")
    approving = asyncio.create_task(asyncio.to_thread(farm_decides, server, "Home Assistant", True))
    key = await client.request_app_key("Home Assistant", "homeassistant", timeout=10)
    await approving
    assert key not in server.keys.values()

    client.set_api_key(key)
    discovery = await client.get_discovery_info()
    assert discovery is not None and uuid.UUID(discovery.upnp_uuid)
    assert discovery.public_port == port_of(server.urls["p1"])
    server_info = await client.get_server_info()
    assert server_info.version == "1.11.8" and server_info.safe_mode is None
    assert (await poll(client)).status == "operational"
    await client.set_bed_temperature(40)  # the role chosen on the page: an operator may heat
    assert server.sim("p1").inspect(lambda fw: fw.bed.target) == 40

    # The same printer reached through the farm's main port with a path keeps its device; the other
    # printer is another device.
    via_path = OctoprintClient("127.0.0.1", session, port=port_of(server.main_url), path="/printers/p1/")
    via_path.set_api_key(key)
    assert (await via_path.get_discovery_info()).upnp_uuid == discovery.upnp_uuid
    other = home_assistant(server, session, "p2")
    assert (await other.get_discovery_info()).upnp_uuid != discovery.upnp_uuid
    webcam = await client.get_webcam_info()
    assert webcam is not None and webcam.enabled is False  # no camera in farm.toml: no camera entity


async def test_a_denied_key_and_a_wrong_key(server, session):
    """A refusal ends the flow with the library's "denied" error; a wrong key makes Home Assistant
    ask to re-authenticate (403), never a crash."""
    api = OctoprintApi(f"{server.urls['p2']}/", session)
    assert await api.check_appkeys_enabled() is True
    token = await api.appkeys_start_auth("Home Assistant", "homeassistant")
    assert await api.appkeys_check_status(token) == {"message": "Awaiting decision"}  # OctoPrint's words
    await asyncio.to_thread(farm_decides, server, "Home Assistant", False)
    with pytest.raises(ApiError, match="denied"):
        await api.appkeys_check_status(token)

    stranger = OctoprintClient("127.0.0.1", session, port=port_of(server.urls["p2"]), path="/")
    stranger.set_api_key("not-a-key")
    with pytest.raises(UnauthorizedException):
        await stranger.get_job_info()
    with pytest.raises(UnauthorizedException):
        await stranger.get_printer_info()


async def test_a_print_as_home_assistant_shows_it(server, session):
    """Sensors through a print; the Pause, Resume and Stop buttons act only as the flags allow and
    reach the firmware: nothing is sent while paused, nothing after the stop."""
    data = long_gcode()
    requests.post(f"{server.urls['p1']}/api/files/local", headers=server.headers("operator"),
                  files={"file": ("long.gcode", data)}, data={"print": "true"}).raise_for_status()
    client = home_assistant(server, session)
    view = await until(client, lambda v: v.printing and v.job_percentage > 0, "the print under way")
    assert view.status == "printing" and view.printing_error is False
    assert view.current_file == "long.gcode" and view.current_file_size == len(data)
    assert 0 < view.job_percentage < 100
    assert (await client.get_job_info()).progress.print_time_left is not None  # "Estimated Finish Time"

    await client.pause_job()  # the Pause button: pressed while flags.printing
    view = await until(client, lambda v: v.status == "paused", "the print paused")
    assert view.paused is True and view.printing is False and view.current_file == "long.gcode"
    await asyncio.sleep(0.2)  # the lines already in the firmware's buffer run out
    sent, view = len(server.sim("p1").executed), await poll(client)
    await asyncio.sleep(0.3)
    assert len(server.sim("p1").executed) == sent
    assert (await poll(client)).job_percentage == view.job_percentage > 0

    await client.resume_job()  # the Resume button: pressed while flags.paused
    await until(client, lambda v: v.printing, "the print resumed")
    await asyncio.to_thread(server.wait_for, lambda: len(server.sim("p1").executed) > sent + 50,
                            what="lines after the resume")

    await client.cancel_job()  # the Stop button
    view = await until(client, lambda v: v.status == "operational", "the print stopped")
    assert view.printing is False and view.paused is False
    stopped = len(server.sim("p1").executed)
    await asyncio.sleep(0.3)
    assert len(server.sim("p1").executed) <= stopped + 5  # at most the cancel's own cool-down lines
    assert not any(r.command.startswith("G1 X10 Y40 E1.5") for r in server.sim("p2").executed)
    with pytest.raises(ApiError):  # nothing to resume any more: OctoPrint's 409
        await client.resume_job()


async def test_tool_and_bed_targets(server, session):
    """The number entities and services set targets; the bed goes through the library's
    ``//api/printer/bed``, on a printer's own port and under the main port's path alike."""
    client = home_assistant(server, session)
    view = await poll(client)  # the temperature sensors exist from the first poll
    assert set(view.temperatures) == {"actual tool0 temp", "target tool0 temp", "actual bed temp", "target bed temp"}
    await client.set_tool_temperature("tool0", 205)
    await client.set_bed_temperature(60)
    assert server.sim("p1").inspect(lambda fw: (fw.hotend.target, fw.bed.target)) == (205, 60)
    view = await poll(client)  # the new targets show at once, as OctoPrint shows them
    assert (view.temperatures["target tool0 temp"], view.temperatures["target bed temp"]) == (205, 60)

    p2 = OctoprintClient("127.0.0.1", session, port=port_of(server.main_url), path="/printers/p2/")
    p2.set_api_key(server.keys["operator"])
    await p2.set_bed_temperature(55)
    assert server.sim("p2").inspect(lambda fw: fw.bed.target) == 55
    assert server.sim("p1").inspect(lambda fw: fw.bed.target) == 60

    await client.turn_tool_off("tool0")
    await client.turn_bed_off()
    assert server.sim("p1").inspect(lambda fw: (fw.hotend.target, fw.bed.target)) == (0, 0)
    viewer = home_assistant(server, session, role="viewer")
    with pytest.raises(ApiError):  # a viewer's key reads but never heats
        await viewer.set_bed_temperature(90)
    assert server.sim("p1").inspect(lambda fw: fw.bed.target) == 0


async def test_a_printer_switched_off_and_back(server, session):
    """Disconnected, /api/printer is a 409: Home Assistant keeps the job sensors and marks the
    printer's own entities unavailable; the connect service brings it back."""
    client = home_assistant(server, session, "p2")
    await client.disconnect()
    await asyncio.to_thread(server.wait_state, "p2", PrinterState.OFFLINE)
    with pytest.raises(PrinterOffline):
        await client.get_printer_info()
    view = await poll(client)
    assert view.status is None and view.printing is None and view.temperatures == {}
    assert (await client.get_job_info()).state == "Offline"
    assert server.state("p1") == PrinterState.OPERATIONAL

    await client.connect()
    await asyncio.to_thread(server.wait_state, "p2", PrinterState.OPERATIONAL)
    assert (await poll(client)).status == "operational"
    requests.post(f"{server.urls['p2']}/api/files/local", headers=server.headers("operator"),
                  files={"file": ("small.gcode", SMALL_GCODE)}, data={"print": "true"}).raise_for_status()
    await asyncio.to_thread(server.wait_for, lambda: "G1 X10 Y40 E1.5" in
                            [r.command for r in server.sim("p2").executed], what="a print after reconnecting")


async def test_the_camera_entity_of_a_printer_with_a_webcam(tmp_path, session):
    """farm.toml's ``webcam = { stream = "/webcam/?action=stream" }``: Home Assistant makes its MJPEG
    camera from the settings' stream URL and derives the still image from it."""
    farm = FarmServer(tmp_path / "data", printers("cam", webcam=WebcamConfig(stream="/webcam/?action=stream"))).start()
    try:
        client = OctoprintClient("127.0.0.1", session, port=port_of(farm.urls["cam"]), path="/")
        client.set_api_key(farm.keys["viewer"])
        webcam = await client.get_webcam_info()
        base = farm.urls["cam"]
        assert webcam.enabled is True
        assert webcam.stream_url == f"{base}/webcam/?action=stream"
        assert webcam.external_snapshot_url == f"{base}/webcam/?action=snapshot"
        assert (webcam.flip_horizontal, webcam.flip_vertical, webcam.rotate_90) == (False, False, False)
        assert webcam.snapshot_ssl_validation_enabled is True and webcam.bitrate == "10000k"
    finally:
        farm.stop()
