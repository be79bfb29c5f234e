"""Queues, automation, external data and history: the settings side of the plugin's API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.db import QueueDb
from farmctl.queue.validate import as_str
from farmctl.store import ARCHIVE_QUEUE, LOCAL_QUEUE, EventHook, QueueRecord, RunRecord, Strategy

HISTORY_LIMIT = 100
PERMANENT_QUEUES = (LOCAL_QUEUE, ARCHIVE_QUEUE)
EVENTS = (
    "continuousprint_activate",
    "continuousprint_start_print",
    "continuousprint_success",
    "continuousprint_cancel",
    "continuousprint_cooldown",
    "continuousprint_finish",
    "continuousprint_awaiting_material",
    "continuousprint_deactivate",
)


@dataclass(frozen=True, slots=True)
class Automation:
    """Scripts and preprocessors by name, and the hooks of each event in order."""

    scripts: dict[str, str]
    preprocessors: dict[str, str]
    events: dict[str, list[EventHook]]


def _strategy(value: Any) -> Strategy:
    if value in ("LINEAR", "IN_ORDER", None):
        return Strategy.LINEAR
    raise FarmctlError(f"strategy must be LINEAR, not {value!r}")


def _name_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise FarmctlError(f"{what} must be an object of name: body")
    return {as_str(k, f"{what} name"): as_str(v, f"{what} {k!r}", allow_empty=True) for k, v in value.items()}


def _events(value: Any, scripts: Mapping[str, str], preprocessors: Mapping[str, str]) -> dict[str, list[EventHook]]:
    if not isinstance(value, Mapping):
        raise FarmctlError("events must be an object of event: [{script, preprocessor}]")
    events: dict[str, list[EventHook]] = {}
    for event, hooks in value.items():
        if event not in EVENTS:
            raise FarmctlError(f"unknown event {event!r}")
        if not isinstance(hooks, list):
            raise FarmctlError(f"hooks of {event} must be a list")
        for hook in hooks:
            if not isinstance(hook, Mapping) or hook.get("script") not in scripts:
                raise FarmctlError(f"{event}: every hook must name a known script, not {hook!r}")
            pre = hook.get("preprocessor") or None
            if pre is not None and pre not in preprocessors:
                raise FarmctlError(f"{event}: unknown preprocessor {pre!r}")
            events.setdefault(event, []).append(EventHook(hook["script"], pre))
    return events


class QueueSettings:
    """The queues themselves, run history, automation and external data."""

    def __init__(self, db: QueueDb) -> None:
        self._db = db

    async def get_queues(self) -> list[QueueRecord]:
        """queues/get (without the hidden archive)."""
        async with self._db.read() as tx:
            return [q for q in await tx.queues.all() if q.name != ARCHIVE_QUEUE]

    async def edit_queues(self, items: Any) -> None:
        """queues/edit: the list gives queues and their order; queues left out are removed.

        ``local`` and ``archive`` always stay. A queue that still holds jobs is not removed.
        """
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise FarmctlError("queues must be a list of {name, addr, strategy}")
        wanted = [
            (as_str(i.get("name"), "queue name"), i.get("addr") or None, _strategy(i.get("strategy")))
            for i in items
        ]
        names = [n for n, _, _ in wanted]
        if len(set(names)) != len(names):
            raise FarmctlError("queues lists a name twice")
        if ARCHIVE_QUEUE in names:
            raise FarmctlError("the archive queue cannot be edited")
        async with self._db.write() as tx:
            current = {q.name: q for q in await tx.queues.all()}
            for q in current.values():
                if q.name not in names and q.name not in PERMANENT_QUEUES:
                    if await tx.jobs.count_in(q.id):
                        raise FarmctlError(f"queue {q.name!r} still has jobs; remove them first", status=409)
                    await tx.queues.delete(q.id)
            for rank, (name, addr, strategy) in enumerate(wanted):
                if name in current:
                    await tx.queues.update(current[name].id, float(rank), addr, strategy)
                else:
                    await tx.queues.insert(name, float(rank), addr, strategy)
            if LOCAL_QUEUE not in names:
                await tx.queues.update(current[LOCAL_QUEUE].id, -1.0, None, Strategy.LINEAR)
            await tx.queues.update(current[ARCHIVE_QUEUE].id, float(len(wanted) + 1), None, Strategy.LINEAR)

    async def get_history(self, limit: int = HISTORY_LIMIT) -> list[RunRecord]:
        """history/get: the latest runs, newest first."""
        async with self._db.read() as tx:
            return await tx.runs.history(limit)

    async def reset_history(self) -> None:
        """history/reset: forget finished runs. Open runs stay: they reserve copies being printed."""
        async with self._db.write() as tx:
            await tx.runs.delete_closed()

    async def get_automation(self) -> Automation:
        """automation/get."""
        async with self._db.read() as tx:
            return Automation(await tx.automation.scripts(), await tx.automation.preprocessors(),
                              await tx.automation.events())

    async def hooks(self, event: str) -> list[tuple[str, str | None]]:
        """The (script body, preprocessor body or None) pairs to run for ``event``, in order."""
        async with self._db.read() as tx:
            scripts, pres = await tx.automation.scripts(), await tx.automation.preprocessors()
            return [
                (scripts[h.script], None if h.preprocessor is None else pres[h.preprocessor])
                for h in (await tx.automation.events()).get(event, [])
            ]

    async def edit_automation(self, data: Any) -> None:
        """automation/edit: replace scripts, preprocessors and event hooks as a whole."""
        if not isinstance(data, Mapping):
            raise FarmctlError("automation must be an object with scripts, preprocessors and events")
        scripts = _name_map(data.get("scripts", {}), "scripts")
        pres = _name_map(data.get("preprocessors", {}), "preprocessors")
        events = _events(data.get("events", {}), scripts, pres)
        async with self._db.write() as tx:
            await tx.automation.replace(scripts, pres, events)

    async def set_external(self, data: Any) -> None:
        """automation/external: the object preprocessors see as ``external``."""
        if not isinstance(data, Mapping):
            raise FarmctlError("external data must be a JSON object")
        async with self._db.write() as tx:
            await tx.automation.set_external(data)

    async def get_external(self) -> dict[str, Any]:
        async with self._db.read() as tx:
            return await tx.automation.external()
