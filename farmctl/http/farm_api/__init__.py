"""The dashboard's own JSON API under ``/api/farm/...``: one module per area, one route table here.

Handlers only translate: the behaviour lives in ``farmctl/farm``, ``farmctl/queue``,
``farmctl/files`` and ``farmctl/auth``.
"""

from __future__ import annotations

from aiohttp import web

from farmctl.http.farm_api import access, files, history, queue

ROUTES: list[web.RouteDef] = [*files.ROUTES, *queue.ROUTES, *history.ROUTES, *access.ROUTES]


def add_routes(app: web.Application, prefix: str) -> None:
    """On the main port only (``prefix`` is always "" there)."""
    if prefix == "":
        app.router.add_routes(ROUTES)
