"""Every committed change to the queue reaches the farm's listeners (drivers and the push channel),
announced by the queue itself: no HTTP handler has to remember to say so."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import InProcess
from test_queue_printing import get, post

pytestmark = pytest.mark.timeout(30)


async def changes_after(farm: InProcess, path: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The change messages a listener hears within a moment of one call (nothing that came before)."""
    inbox = farm.farm.subscribe()
    try:
        await post(farm, path, data)
        await asyncio.sleep(0.1)
        heard = []
        while not inbox.empty():
            heard.append(inbox.get_nowait())
        return [m for m in heard if m.get("type") == "changed"]
    finally:
        farm.farm.unsubscribe(inbox)


async def test_queue_edits_automation_edits_and_history_resets_are_announced(inproc: InProcess) -> None:
    queues = [{"name": "local", "addr": None, "strategy": "LINEAR"}, {"name": "night", "addr": None, "strategy": "LINEAR"}]
    assert await changes_after(inproc, "queues/edit", {"json": json.dumps(queues)})
    assert [q["name"] for q in (await get(inproc, "state/get"))["queues"]] == ["local", "night"]

    automation = {"scripts": {"Wipe": "G28"}, "preprocessors": {}, "events": {"continuousprint_success": [{"script": "Wipe"}]}}
    assert await changes_after(inproc, "automation/edit", {"json": json.dumps(automation)})

    added = await post(inproc, "set/add", {"path": "a.gcode", "count": 1, "jobName": "j", "jobDraft": False})
    claim = await inproc.farm.model.counting.claim("elsewhere")  # another farmctl printed it
    assert claim is not None and claim.job.id == added["job_id"]
    await inproc.farm.model.counting.finish_run(claim.run.id, "success")
    assert len(await get(inproc, "history/get")) == 1
    assert await changes_after(inproc, "history/reset", {})
    assert await get(inproc, "history/get") == []


async def test_a_call_that_changes_nothing_announces_nothing(inproc: InProcess) -> None:
    assert await changes_after(inproc, "history/reset", {}) == []  # no history to forget
