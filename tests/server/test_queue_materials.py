"""Materials and printer profiles decide which printer takes which set (Continuous Print's matching),
over real ptys to simulated printers: a red-PLA set goes only to the printer with red PLA loaded."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import InProcess
from conftest import in_process
from server_helpers import CP, NO_HOOKS
from test_queue_printing import get, markers, post, wait_for_runs, write_file

from farmctl.farm.config import PrinterConfig

pytestmark = pytest.mark.timeout(40)
FARM_CP = "/farm" + CP
RED, BLACK = "PLA_red_#ff0000", "PETG_black_#000000"


async def load(farm: InProcess, printer: str, materials: list[str | None]) -> dict[str, Any]:
    response = await farm.client.post(f"/api/farm/printers/{printer}/materials", headers=farm.headers,
                                      json={"materials": materials})
    assert response.status == 200, await response.text()
    return (await response.json())["printer"]  # the printer's card as the farm view shows it


async def material_job(farm: InProcess, path: str, material: str, count: int) -> int:
    added = await post(farm, "set/add", {"json": json.dumps({"path": path, "sd": False, "count": count,
                                                             "materials": [material], "jobName": path,
                                                             "jobDraft": False})}, FARM_CP)
    return added["job_id"]


async def status_of(farm: InProcess, printer: str) -> dict[str, Any]:
    return next(p for p in (await get(farm, "state/get", FARM_CP))["printers"] if p["name"] == printer)


async def until_status(farm: InProcess, printer: str, prefix: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (state := await status_of(farm, printer))["status"].startswith(prefix):
        assert time.monotonic() < deadline, f"{printer} never showed {prefix!r}: {state['status']!r}"
        await asyncio.sleep(0.05)
    return state


async def test_each_set_goes_only_to_the_printer_with_its_material(inproc2: InProcess) -> None:
    write_file(inproc2, "red.gcode", "RED")
    write_file(inproc2, "black.gcode", "BLACK")
    await post(inproc2, "automation/edit", {"json": NO_HOOKS}, FARM_CP)
    shown = await load(inproc2, "p1", [RED])
    assert shown["materials"] == [RED]  # what the dashboard's card shows
    await load(inproc2, "p2", [BLACK])
    await material_job(inproc2, "red.gcode", RED, 2)
    await material_job(inproc2, "black.gcode", BLACK, 2)

    await post(inproc2, "set_active", {"active": True}, FARM_CP)
    runs = await wait_for_runs(inproc2, 4, timeout=15, base=FARM_CP)
    assert sorted(r["set_path"] for r in runs) == ["black.gcode", "black.gcode", "red.gcode", "red.gcode"]
    assert markers(inproc2, "p1") == ["RED", "RED"] and markers(inproc2, "p2") == ["BLACK", "BLACK"]
    assert {p["name"]: p["materials"] for p in (await get(inproc2, "state/get", FARM_CP))["printers"]} == {
        "p1": [RED], "p2": [BLACK]}

    await load(inproc2, "p2", [RED])  # someone swaps p2's spool: nobody has black PETG now
    await material_job(inproc2, "black.gcode", BLACK, 1)
    for printer in ("p1", "p2"):
        state = await until_status(inproc2, printer, "Need ")
        assert state["status"] == "Need PETG (black) in tool 0, but PLA (red) is loaded"
        assert state["statusType"] == "NEEDS_ACTION"
    await asyncio.sleep(0.3)
    assert markers(inproc2, "p1") == ["RED", "RED"] and markers(inproc2, "p2") == ["BLACK", "BLACK"]

    await load(inproc2, "p2", [BLACK])  # loaded again: the waiting set starts at once, on p2 only
    await wait_for_runs(inproc2, 5, timeout=10, base=FARM_CP)
    assert markers(inproc2, "p2") == ["BLACK"] * 3 and markers(inproc2, "p1") == ["RED", "RED"]
    await until_status(inproc2, "p1", "Idle")


async def test_a_spool_swapped_while_the_queue_claims_is_never_printed_with(inproc: InProcess,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator swaps the spool just as the driver claims a copy for the old one: the copy is given
    back and waits for its material, rather than printing black on red."""
    write_file(inproc, "black.gcode", "BLACK")
    await post(inproc, "automation/edit", {"json": NO_HOOKS}, FARM_CP)
    await load(inproc, "p1", [BLACK])
    farm, claim = inproc.farm, inproc.farm.model.counting.claim
    swapped = []

    async def claim_as_the_spool_is_swapped(*args: Any, **kwargs: Any) -> Any:
        if not swapped:  # the swap is committed while this claim is under way
            swapped.append(await farm.set_materials(farm.printers["p1"], [RED]))
        return await claim(*args, **kwargs)

    monkeypatch.setattr(farm.model.counting, "claim", claim_as_the_spool_is_swapped)
    await material_job(inproc, "black.gcode", BLACK, 1)
    await post(inproc, "set_active", {"active": True}, FARM_CP)
    state = await until_status(inproc, "p1", "Need ")
    assert state["status"] == "Need PETG (black) in tool 0, but PLA (red) is loaded"
    assert swapped and markers(inproc, "p1") == []
    assert [r for r in await get(inproc, "history/get", FARM_CP)] == []  # the copy was given back, not run

    await load(inproc, "p1", [BLACK])
    assert [r["set_path"] for r in await wait_for_runs(inproc, 1, timeout=10, base=FARM_CP)] == ["black.gcode"]
    assert markers(inproc, "p1") == ["BLACK"]


async def test_bad_materials_are_refused_and_change_nothing(inproc: InProcess) -> None:
    await load(inproc, "p1", [RED])
    for bad in (["red"], [RED, BLACK], [42], "PLA", ["PLA_red_ff0000"]):
        response = await inproc.client.post("/api/farm/printers/p1/materials", headers=inproc.headers,
                                            json={"materials": bad})
        assert response.status == 400, (bad, await response.text())
        assert "error" in await response.json()
    assert (await get(inproc, "state/get"))["materials"] == [RED]


async def test_materials_and_printer_profile_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with in_process(data, "p1") as farm:
        await load(farm, "p1", [RED])
        response = await farm.client.post("/api/farm/printers/p1/printer_profile", headers=farm.headers,
                                          json={"profile": "Prusa i3 MK3S"})
        assert response.status == 200, await response.text()
    async with in_process(data, "p1") as farm:
        state = await get(farm, "state/get")
        assert state["materials"] == [RED] and state["profile"] == "Prusa i3 MK3S"


async def test_sets_go_only_to_printers_of_their_profile(tmp_path: Path) -> None:
    """A set's ``profiles`` against each printer's printer profile: from farm.toml (p1) or the API (p2)."""
    printers = (PrinterConfig("p1", "sim", profile="marlin2", printer_profile="Creality Ender 3"),
                PrinterConfig("p2", "sim", profile="marlin2"))
    async with in_process(tmp_path / "data", printers=printers) as farm:
        write_file(farm, "ender.gcode", "ENDER")
        write_file(farm, "mk3.gcode", "MK3")
        response = await farm.client.post("/api/farm/printers/p2/printer_profile", headers=farm.headers,
                                          json={"profile": "Prusa i3 MK3S"})
        assert response.status == 200, await response.text()
        await post(farm, "automation/edit", {"json": NO_HOOKS}, FARM_CP)
        for path, profile in (("mk3.gcode", "Prusa i3 MK3S"), ("ender.gcode", "Creality Ender 3")):
            await post(farm, "set/add", {"json": json.dumps({"path": path, "sd": False, "count": 2, "jobName": path,
                                                             "profiles": [profile], "jobDraft": False})}, FARM_CP)
        await post(farm, "set_active", {"active": True}, FARM_CP)
        await wait_for_runs(farm, 4, timeout=15, base=FARM_CP)
        assert markers(farm, "p1") == ["ENDER", "ENDER"] and markers(farm, "p2") == ["MK3", "MK3"]
        assert (await get(farm, "state/get", f"/printers/p1{CP}"))["profile"] == "Creality Ender 3"
