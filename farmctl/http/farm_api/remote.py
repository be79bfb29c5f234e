"""A printer of another node, reached through this node's dashboard API: the same routes, forwarded.

A per-printer route (``/api/farm/printers/<name>/...``) for a printer this node does not drive
goes to the node that drives it, signed with the caller's role and user (so that node checks it as
strictly as the caller's own call), and its answer comes back as it is, the printer's card marked
with its node. A printer whose node went away is refused at once with 409 saying so; a node that
does not answer is a 502 naming it. A call that another node forwarded is never forwarded again.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from farmctl.auth import Principal
from farmctl.auth.peers import is_signed
from farmctl.errors import FarmctlError
from farmctl.farm.bulk import BulkResult
from farmctl.farm.farm import Farm
from farmctl.http.app import PRINCIPAL, Handler, farm_of
from farmctl.http.params import json_body


def is_remote(farm: Farm, request: web.Request, name: str) -> bool:
    """Whether ``name`` is another node's printer this request may be forwarded for."""
    return name not in farm.printers and not is_signed(request.headers) and farm.one_view.node_of(name) is not None


async def forward(farm: Farm, request: web.Request, printer: str, method: str, path: str,
                  body: Any = None) -> tuple[int, Any]:
    """Send the call for ``printer`` to its node: (status, decoded JSON answer)."""
    principal: Principal = request[PRINCIPAL]
    node, url = farm.one_view.reachable(printer)
    reply = await farm.peers.request(url, method, path, json=body, role=principal.role, user=principal.user)
    data = reply.data
    if isinstance(data, dict) and isinstance(data.get("printer"), dict):
        data["printer"]["node"] = farm.one_view.nodes[node].describe()
    return reply.status, data


def forwarded(handler: Handler) -> Handler:
    """A per-printer handler that forwards calls for another node's printer (``{name}`` in its path)."""

    @functools.wraps(handler)
    async def handle(request: web.Request) -> web.StreamResponse:
        farm = farm_of(request)
        name = request.match_info["name"]
        if not is_remote(farm, request, name):
            return await handler(request)
        body = None if request.method in ("GET", "HEAD") else await json_body(request)
        query = request.rel_url.query.copy()
        query.popall("apikey", None)  # the caller's key stays here: the call is signed as this node's
        target = request.rel_url.with_query(query)
        status, data = await forward(farm, request, name, request.method, target.raw_path_qs, body)
        return web.json_response(data, status=status)

    return handle


async def bulk_elsewhere(farm: Farm, request: web.Request, names: Sequence[str],
                         body: dict[str, Any]) -> list[BulkResult]:
    """A bulk action's share for other nodes' printers: one call per node with its printers; a node
    that went away or does not answer is each of its printers' error."""
    by_node: dict[str, list[str]] = {}
    for name in names:
        node = farm.one_view.node_of(name)
        assert node is not None
        by_node.setdefault(node.name, []).append(name)

    async def one_node(node_names: list[str]) -> list[BulkResult]:
        try:
            status, data = await forward(farm, request, node_names[0], "POST", "/api/farm/bulk",
                                         {**body, "printers": node_names})
        except FarmctlError as exc:
            return [BulkResult(name, exc.message) for name in node_names]
        if status != 200 or not isinstance(data, dict) or not isinstance(data.get("results"), list):
            error = data.get("error") if isinstance(data, dict) else None
            return [BulkResult(name, error or f"its node answered HTTP {status}") for name in node_names]
        answered = {r.get("printer"): r.get("error") for r in data["results"] if isinstance(r, dict)}
        return [BulkResult(name, answered[name] if name in answered else "its node did not answer for it")
                for name in node_names]

    return [result for share in await asyncio.gather(*(one_node(n) for n in by_node.values())) for result in share]
