"""The demo farm's first-start offer: ``GET /api/farm/demo`` (``{"offer": null}`` once used or on a
real farm) and ``POST /api/farm/demo/start`` (queue the demo job, manage every printer)."""

from __future__ import annotations

from aiohttp import web

from farmctl.farm import demo
from farmctl.http.app import farm_of


async def demo_get(request: web.Request) -> web.Response:
    return web.json_response({"offer": await demo.offer(farm_of(request))})


async def demo_start(request: web.Request) -> web.Response:
    await demo.start(farm_of(request))
    return web.json_response({"offer": None})


ROUTES = (
    ("GET", "/api/farm/demo", demo_get),
    ("POST", "/api/farm/demo/start", demo_start),
)
