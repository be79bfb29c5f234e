"""Routes of this API surface (being built)."""

from aiohttp import web


def add_routes(app: web.Application, prefix: str) -> None:
    """No routes yet."""
