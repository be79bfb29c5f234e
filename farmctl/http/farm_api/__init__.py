"""The dashboard's own JSON API under ``/api/farm/...``, its page at ``/`` and its files at ``/static/``.

One route table for the whole surface, one module per area; every handler only translates a
request into farm calls (farm behaviour lives in ``farmctl/farm/``). The page is the only client
this API is shaped for, but scripts may use it too: every call needs a key, as everywhere else.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from farmctl.http.farm_api import access, demo, files, fleet, history, printers, push, queue, summary

STATIC_DIR = Path(__file__).parent.parent / "static"

Route = tuple[str, str, "web.Handler"]  # method, path under the prefix, handler


async def index(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC_DIR / "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


ROUTES: tuple[Route, ...] = (
    ("GET", "/", index),
    *printers.ROUTES,
    *fleet.ROUTES,
    *demo.ROUTES,
    *push.ROUTES,
    *files.ROUTES,
    *queue.ROUTES,
    *history.ROUTES,
    *access.ROUTES,
    *summary.ROUTES,
)
"""Every dashboard route; each area module lists its own in its ``ROUTES``."""


def add_routes(app: web.Application, prefix: str) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, prefix + path, handler)
    push.add_shutdown(app)
    app.router.add_static(f"{prefix}/static/", STATIC_DIR, append_version=False)
