"""OctoPrint's Action Command Prompt plugin API: the firmware's open question, and the answer to it.

A filament change (M600) or a purge asks through ``//action:prompt_*`` and waits for a person. Clients
read it from ``GET /api/plugin/action_command_prompt`` (``{}`` when nothing is asked) and the push
channel's ``plugin`` messages, and answer with ``{"command": "select", "choice": n}``.
"""

from __future__ import annotations

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm.farm import PROMPT_PLUGIN
from farmctl.http.app import printer_of
from farmctl.http.octoprint_common import command_body, command_of, no_content


async def prompt_get(request: web.Request) -> web.Response:
    prompt = printer_of(request).printer.prompt
    return web.json_response({} if prompt is None else prompt.as_dict())


async def prompt_post(request: web.Request) -> web.Response:
    body = await command_body(request)
    command_of(body, ("select",))
    choice = body.get("choice")
    if isinstance(choice, bool) or not isinstance(choice, int):
        raise FarmctlError(f"{choice!r} is not a valid value for choice")
    printer_of(request).printer.answer_prompt(choice)
    return no_content()


def add_routes(app: web.Application, prefix: str) -> None:
    path = f"{prefix}/api/plugin/{PROMPT_PLUGIN}"
    app.router.add_routes([web.get(path, prompt_get), web.post(path, prompt_post)])
