"""Rows of event scripts, preprocessors, their hooks, the external data and the queue's settings (see ``tx.Tx``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from farmctl.store.records import EventHook
from farmctl.store.sql import Rows


class AutomationRows(Rows):
    async def scripts(self) -> dict[str, str]:
        return {r["name"]: r["body"] for r in await self._sql.all("SELECT * FROM scripts ORDER BY name")}

    async def preprocessors(self) -> dict[str, str]:
        return {r["name"]: r["body"] for r in await self._sql.all("SELECT * FROM preprocessors ORDER BY name")}

    async def events(self) -> dict[str, list[EventHook]]:
        hooks: dict[str, list[EventHook]] = {}
        for r in await self._sql.all("SELECT * FROM events ORDER BY event, rank, id"):
            hooks.setdefault(r["event"], []).append(EventHook(r["script"], r["preprocessor"]))
        return hooks

    async def replace(self, scripts: Mapping[str, str], preprocessors: Mapping[str, str],
                      events: Mapping[str, Sequence[EventHook]]) -> None:
        for table in ("events", "scripts", "preprocessors"):
            await self._sql.write(f"DELETE FROM {table}")
        for name, body in scripts.items():
            await self._sql.write("INSERT INTO scripts (name, body) VALUES (?, ?)", (name, body))
        for name, body in preprocessors.items():
            await self._sql.write("INSERT INTO preprocessors (name, body) VALUES (?, ?)", (name, body))
        for event, hooks in events.items():
            for rank, hook in enumerate(hooks):
                await self._sql.write("INSERT INTO events (event, rank, script, preprocessor) VALUES (?, ?, ?, ?)",
                                      (event, rank, hook.script, hook.preprocessor))

    async def external(self) -> dict[str, Any]:
        row = await self._sql.one("SELECT data FROM external WHERE id = 1")
        return {} if row is None else dict(json.loads(row["data"]))

    async def set_external(self, data: Mapping[str, Any]) -> None:
        await self._sql.write(
            "INSERT INTO external (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            (json.dumps(dict(data)),),
        )

    async def settings(self) -> dict[str, Any]:
        """The queue's own settings by name (bed cooldown...); a setting without a row has its default."""
        return {r["name"]: json.loads(r["value"]) for r in await self._sql.all("SELECT * FROM queue_settings")}

    async def set_settings(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            await self._sql.write(
                "INSERT INTO queue_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )
