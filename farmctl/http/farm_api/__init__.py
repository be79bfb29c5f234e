"""The dashboard's own JSON API under ``/api/farm/...``: one module per area, one route table here.

Handlers only translate: the behaviour lives in ``farmctl/farm``, ``farmctl/queue``,
``farmctl/files`` and ``farmctl/auth``.
"""

from __future__ import annotations

from aiohttp import web

from farmctl.http.farm_api import access, files, history, queue

Route = tuple[str, str, "web.Handler"]  # method, path under the prefix, handler

ROUTES: tuple[Route, ...] = (*files.ROUTES, *queue.ROUTES, *history.ROUTES, *access.ROUTES)
"""Every dashboard route; each area module lists its own in its ``ROUTES``."""


def add_routes(app: web.Application, prefix: str) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, prefix + path, handler)
