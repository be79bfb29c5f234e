"""``GET /api/farm/summary``: every printer's card, the shared queue and recent history in one JSON,
for scripts that want the whole farm in one call (the page itself listens to the push channel)."""

from __future__ import annotations

import time

from aiohttp import web

from farmctl.auth import Principal
from farmctl.http import cp_json
from farmctl.http.app import PRINCIPAL, farm_of
from farmctl.http.continuousprint import queues
from farmctl.http.farm_api.printers import card, remote_cards, whole_farm

HISTORY_ROWS = 20


async def summary(request: web.Request) -> web.Response:
    farm = farm_of(request)
    principal: Principal = request[PRINCIPAL]
    now = time.monotonic()
    history = await farm.model.settings.get_history(HISTORY_ROWS)
    return web.json_response({
        "user": {"name": principal.user, "role": principal.role.value},
        "printers": [card(farm, entry, now) for entry in farm.printers.values()]
        + (await remote_cards(farm, trends=False) if whole_farm(request) else []),
        "queues": await queues(farm),
        "history": [{**cp_json.run_json(run), "printer": run.printer} for run in history],
    })


ROUTES = (("GET", "/api/farm/summary", summary),)
