"""``farmctl serve``: the farm server — every printer, the queue, the HTTP APIs and the dashboard.

The server's modules are imported when it runs, not when the command line is parsed, so
``farmctl --help`` and the small commands start without them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from farmctl.errors import FarmctlError

if TYPE_CHECKING:
    from aiohttp import web

    from farmctl.farm.config import FarmConfig
    from farmctl.farm.farm import Farm, SimOptions

DEFAULT_DATA = Path("farm-data")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="farm.toml with one [[printers]] table per printer")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="database, uploads and logs (default ./farm-data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--sim-speed", choices=["real", "fast"], default="real",
                        help="simulated printers: real wire and move timing, or as fast as possible (tests)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from farmctl.farm.config import load_config
    from farmctl.farm.farm import SimOptions
    from farmctl.logs import log_to_file

    config = load_config(args.config)
    if config.mqtt is not None:
        _check_mqtt_client()
    log_to_file(args.data)
    sim = SimOptions() if args.sim_speed == "real" else SimOptions(full_speed=True, time_scale=0.0)
    return asyncio.run(serve(config, args.data, args.host, args.port, sim))


async def serve(config: FarmConfig, data: Path, host: str, port: int, sim: SimOptions) -> int:
    from aiohttp import web

    from farmctl.farm import demo
    from farmctl.farm.farm import Farm
    from farmctl.http.announce import Announced, announce
    from farmctl.http.app import build_main_app, build_printer_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Farm.running(config, data, sim=sim) as farm:
        if config.source is None and await demo.seed(farm):
            print(f"farmctl: demo farm: {demo.SAMPLE_PART} and a draft job are ready; press Start in the farm view",
                  flush=True)
        runners: list[web.AppRunner] = []
        cleanups: list[Callable[[], Awaitable[None]]] = []
        try:
            sites = [(build_main_app(farm), port)] + [
                (build_printer_app(farm, p.name), p.api_port) for p in config.printers if p.api_port]
            for app, app_port in sites:
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                runners.append(runner)
                try:
                    await web.TCPSite(runner, host, app_port).start()
                except OSError as exc:
                    raise FarmctlError(f"cannot listen on {host}:{app_port}: {exc.strerror}") from None
            names = ", ".join(farm.printers)
            print(f"farmctl: serving {len(farm.printers)} printer(s) ({names}) on http://{host}:{port}/", flush=True)
            announcer = await announce([Announced(p.name, p.api_port, "/") if p.api_port else
                                  Announced(p.name, port, f"/printers/{p.name}/") for p in config.printers], host)
            if announcer is not None:
                cleanups.append(announcer.close)
            if config.mqtt is not None:
                from farmctl.mqtt.publisher import MqttPublisher

                publisher = MqttPublisher(farm, config.mqtt, config.node)
                await publisher.start()
                cleanups.append(publisher.close)
            first_key = await _first_admin_key(farm)
            if first_key:
                print(f"farmctl: first start: admin API key {first_key}\n"
                      f"farmctl: open http://{host}:{port}/ and paste it (shown once; more with 'farmctl keys add')",
                      flush=True)
            await stop.wait()
        finally:
            for cleanup in cleanups:
                with contextlib.suppress(Exception):
                    await cleanup()
            for runner in runners:
                with contextlib.suppress(Exception):
                    await runner.cleanup()
    return 0


def _check_mqtt_client() -> None:
    """aiomqtt is an optional extra: a farm.toml that names a broker needs it, before anything starts."""
    try:
        import aiomqtt  # noqa: F401
    except ImportError:
        raise FarmctlError("farm.toml names an MQTT broker, but aiomqtt is not installed "
                           "(pip install 'farmctl[mqtt]')") from None


async def _first_admin_key(farm: Farm) -> str | None:
    """On a fresh data folder (no keys, no users) make one admin key, so the dashboard can be opened."""
    from farmctl.auth import Role

    if await farm.auth.list_keys() or await farm.auth.users():
        return None
    return await farm.auth.add_key("initial-admin", Role.ADMIN)
