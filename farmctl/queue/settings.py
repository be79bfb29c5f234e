"""Queues, automation, external data and history: the settings side of the plugin's API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.base import ModelBase
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


class Settings(ModelBase):
    async def get_queues(self) -> list[QueueRecord]:
        """queues/get (without the hidden archive)."""
        async with self._store.transaction(write=False) as tx:
            return [q for q in await tx.queues() if q.name != ARCHIVE_QUEUE]

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
        async with self._store.transaction() as tx:
            current = {q.name: q for q in await tx.queues()}
            for q in current.values():
                if q.name not in names and q.name not in PERMANENT_QUEUES:
                    if await tx.count_jobs(q.id):
                        raise FarmctlError(f"queue {q.name!r} still has jobs; remove them first", status=409)
                    await tx.delete_queue(q.id)
            for rank, (name, addr, strategy) in enumerate(wanted):
                if name in current:
                    await tx.update_queue(current[name].id, float(rank), addr, strategy)
                else:
                    await tx.insert_queue(name, float(rank), addr, strategy)
            if LOCAL_QUEUE not in names:
                await tx.update_queue(current[LOCAL_QUEUE].id, -1.0, None, Strategy.LINEAR)
            await tx.update_queue(current[ARCHIVE_QUEUE].id, float(len(wanted) + 1), None, Strategy.LINEAR)

    async def local_set_paths(self) -> list[str]:
        async with self._store.transaction(write=False) as tx:
            return await tx.local_set_paths()

    async def queue_state(self, printer: str | None = None,
                          missing: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """The ``queues`` list of state/get; ``active_set`` is the set ``printer`` is printing and
        ``missing`` the local files found absent (each set's ``missing_file``).

        Clients poll this, and with thousands of jobs building it costs far more than the query
        that tells whether anything changed, so the answer is kept until the database or the
        missing files change. The returned list is shared with later callers: serialise it, do
        not modify it.
        """
        async with self._store.transaction(write=False) as tx:
            marker = (await tx.change_marker(), missing)
            cached_at, cached = self._queue_state_cache
            if cached_at == marker and printer in cached:
                return cached[printer]
            if cached_at != marker:
                cached = {}
                self._queue_state_cache = (marker, cached)
            open_runs = await tx.open_runs(printer) if printer else []
            active = {r.queue_name: r.set_id for r in open_runs}
            out = []
            for q in await tx.queues():
                if q.name == ARCHIVE_QUEUE:
                    continue
                jobs = await tx.jobs_in(q.id)
                out.append({
                    "name": q.name,
                    "strategy": q.strategy.shown,
                    "jobs": [j.to_api(missing) for j in jobs],
                    "active_set": active.get(q.name),
                    "addr": q.addr,
                    "peers": {},
                    "rank": q.rank,
                })
            cached[printer] = out
            return out

    async def get_history(self, limit: int = HISTORY_LIMIT) -> list[RunRecord]:
        """history/get: the latest runs, newest first."""
        async with self._store.transaction(write=False) as tx:
            return await tx.history(limit)

    async def reset_history(self) -> None:
        """history/reset: forget finished runs. Open runs stay: they reserve copies being printed."""
        async with self._store.transaction() as tx:
            await tx.delete_closed_runs()

    async def get_automation(self) -> dict[str, Any]:
        """automation/get."""
        async with self._store.transaction(write=False) as tx:
            return {
                "scripts": await tx.scripts(),
                "preprocessors": await tx.preprocessors(),
                "events": {e: [h.to_api() for h in hooks] for e, hooks in (await tx.events()).items()},
            }

    async def hooks(self, event: str) -> list[tuple[str, str | None]]:
        """The (script body, preprocessor body or None) pairs to run for ``event``, in order."""
        async with self._store.transaction(write=False) as tx:
            scripts, pres = await tx.scripts(), await tx.preprocessors()
            return [
                (scripts[h.script], None if h.preprocessor is None else pres[h.preprocessor])
                for h in (await tx.events()).get(event, [])
            ]

    async def edit_automation(self, data: Any) -> None:
        """automation/edit: replace scripts, preprocessors and event hooks as a whole."""
        if not isinstance(data, Mapping):
            raise FarmctlError("automation must be an object with scripts, preprocessors and events")
        scripts = _name_map(data.get("scripts", {}), "scripts")
        pres = _name_map(data.get("preprocessors", {}), "preprocessors")
        events = _events(data.get("events", {}), scripts, pres)
        async with self._store.transaction() as tx:
            await tx.replace_automation(scripts, pres, events)

    async def set_external(self, data: Any) -> None:
        """automation/external: the object preprocessors see as ``external``."""
        if not isinstance(data, Mapping):
            raise FarmctlError("external data must be a JSON object")
        async with self._store.transaction() as tx:
            await tx.set_external(data)

    async def get_external(self) -> dict[str, Any]:
        async with self._store.transaction(write=False) as tx:
            return await tx.external()
