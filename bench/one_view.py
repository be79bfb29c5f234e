"""One view benchmark: what it costs a node to keep another node's printers in its page.

Node b is a ``farmctl serve`` child process with ``--printers`` simulated printers at real wire and
move timing, every one printing a long file; node a runs in this process on the same fresh
PostgreSQL database (created and dropped here) and reaches b the way its page does, signed with
the farm's peer secret. Three windows of ``--seconds`` each, in one run:

- idle: nothing follows b (b's own CPU printing: the baseline);
- subscribe: one follower on b's push channel (``/api/farm/push?scope=node``), what farmctl does;
- poll: ``GET /api/farm/printers?scope=node`` once a second, the alternative for the same freshness.

For each: bytes per second b sends a, and b's CPU over the window minus the idle window's.

    FARMCTL_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres python bench/one_view.py
    python bench/one_view.py --server postgresql://... --printers 16 --seconds 30
"""

from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's queue: take bench/ off sys.path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402
import requests  # noqa: E402

from farmctl.farm.config import FarmConfig  # noqa: E402
from farmctl.farm.farm import Farm  # noqa: E402
from farmctl.farm.peer_watch import PUSH_PATH  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PART_LINES = 8000
"""Over three minutes of short moves, under 256 KB: checked before its print in a thread, not a child
process each (eight of those at once would only measure the checks)."""


def _bench_module(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


dashboard = _bench_module("dashboard")
shared = _bench_module("shared_uploads")


def start_b(root: Path, database: str, printers: int) -> tuple[subprocess.Popen, str, str]:
    data = root / "b"
    data.mkdir()
    config = data / "farm.toml"
    config.write_text(f'database = "{database}"\nnode = "b"\n' + "".join(
        f'[[printers]]\nname = "b-{n:02d}"\nport = "sim"\nprofile = "marlin2"\n\n' for n in range(1, printers + 1)))
    key = subprocess.run([sys.executable, "-m", "farmctl", "keys", "add", "bench", "--role", "admin", "--config",
                          str(config), "--data", str(data)], check=True, capture_output=True, text=True).stdout.split()[-1]
    port = shared.free_port()
    server = subprocess.Popen([sys.executable, "-m", "farmctl", "serve", "--config", str(config), "--data", str(data),
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}", key


def start_prints(url: str, key: str, printers: int) -> None:
    dashboard.wait_for_printers(url, key, printers, "Operational")
    headers = {"X-Api-Key": key}
    requests.post(f"{url}/api/farm/files", headers=headers, timeout=60,
                  files={"file": ("long.gcode", dashboard.long_part(PART_LINES))}).raise_for_status()
    names = [f"b-{n:02d}" for n in range(1, printers + 1)]
    started = requests.post(f"{url}/api/farm/bulk", headers=headers, timeout=120,
                            json={"action": "print", "printers": names, "path": "long.gcode"}).json()
    if any(r["error"] for r in started["results"]):
        raise SystemExit(f"could not start every print: {started['results']}")
    dashboard.wait_for_printers(url, key, printers, "Printing")


async def window(pid: int, seconds: float, follow) -> tuple[float, float]:  # noqa: ANN001
    """(bytes per second received, b's CPU share of one core) while ``follow(deadline)`` runs."""
    cpu, wall = dashboard.cpu_seconds(pid), time.monotonic()
    received = await follow(wall + seconds)
    spent = time.monotonic() - wall
    return received / spent, (dashboard.cpu_seconds(pid) - cpu) / spent


async def bench(database: str, printers: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="farmctl-bench-one-view-") as folder:
        root = Path(folder)
        server, url, key = start_b(root, database, printers)
        try:
            await asyncio.to_thread(start_prints, url, key, printers)
            config = FarmConfig(printers=(), node="a", node_url="http://127.0.0.1:9", database=database)
            async with Farm.running(config, root / "a") as a:
                async def idle(deadline: float) -> int:
                    await asyncio.sleep(deadline - time.monotonic())
                    return 0

                async def subscribe(deadline: float) -> int:
                    received = 0
                    async with a.peers.websocket(url, PUSH_PATH) as ws:
                        while (left := deadline - time.monotonic()) > 0:
                            try:
                                frame = await ws.receive(timeout=left)
                            except asyncio.TimeoutError:
                                break
                            if frame.type != aiohttp.WSMsgType.TEXT:
                                break
                            received += len(frame.data.encode())
                    return received

                async def poll(deadline: float) -> int:
                    received = 0
                    while time.monotonic() < deadline:
                        started = time.monotonic()
                        reply = await a.peers.request(url, "GET", "/api/farm/printers?scope=node")
                        received += len(json.dumps(reply.data).encode())  # as aiohttp's json_response writes it
                        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
                    return received

                results = {name: await window(server.pid, seconds, way)
                           for name, way in (("idle", idle), ("subscribe", subscribe), ("poll", poll))}
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
    base = results["idle"][1]
    print(f"node b: {printers} simulated printers printing; windows of {seconds:.0f} s")
    print(f"{'follower':<28} {'KB/s b sends':>13} {'b CPU % of a core':>19} {'over idle':>10}")
    for name, (rate, cpu) in results.items():
        print(f"{name:<28} {rate / 1000:>13.2f} {cpu * 100:>19.2f} {(cpu - base) * 100:>+10.2f}")
    sub, pol = results["subscribe"][0], results["poll"][0]
    print(f"poll / subscribe bytes: {pol / sub:.1f} x" if sub else "subscribe sent nothing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--printers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--server", default=os.environ.get("FARMCTL_TEST_POSTGRES"),
                        help="a PostgreSQL URL a database may be created from (default: $FARMCTL_TEST_POSTGRES)")
    args = parser.parse_args()
    if not args.server:
        sys.exit("bench/one_view.py needs PostgreSQL: --server postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(shared.with_database(args.server, lambda url: bench(url, args.printers, args.seconds)))


if __name__ == "__main__":
    main()
