"""Dashboard benchmark: the farm view with 16 simulated printers printing and 10,000 queued jobs.

Fills a fresh data folder with 10,000 jobs (as bench/queue.py does), starts ``farmctl serve`` in a
child process with 16 simulated printers at real wire and move timing, starts a long print on
every printer, then opens the page in Debian's chromium and measures:

- first render: from the navigation's start until all 16 cards show (the page's own clock),
  median and range of several fresh loads (each a new tab of one browser, as an operator reopens it);
- push bytes: what the push channel sends an open tab per second (its websocket frames, past the
  snapshot), averaged over the open tabs;
- server CPU per tab: the server's CPU with N tabs open minus its CPU with none, divided by N. The
  printing farm's own CPU is the baseline: windows with no tab and with N tabs alternate, and each
  open window is compared with the mean of the idle windows either side of it (one figure a round).

    python bench/dashboard.py                 # 16 printers, 10,000 jobs, 3 rounds of 15 s windows, 8 tabs
    python bench/dashboard.py --rounds 5 --tabs 4
    python bench/dashboard.py --tree DIR      # the server from another source tree, as a baseline:
                                              # git archive REV farmctl firmware_profiles | tar -x -C DIR
"""

from __future__ import annotations

import os
import sys

# Running this file puts bench/ first on sys.path, where bench/queue.py would shadow the standard
# library's ``queue`` (which urllib3 and aiosqlite import): take that entry out before any import.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import requests  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TICKS = os.sysconf("SC_CLK_TCK")


def _queue_bench():
    spec = importlib.util.spec_from_file_location("bench_queue", ROOT / "bench" / "queue.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def long_part(lines: int = 40_000) -> bytes:
    """Short moves at 20 mm/s with extrusion: some 17 minutes of printing, so every printer prints throughout."""
    out = ["G90", "M82", "G92 E0", "G1 Z0.3 F600"]
    for n in range(lines):
        out.append(f"G1 X{100 + (n % 40) * 0.5:.1f} Y{100 + (n // 40 % 40) * 0.5:.1f} E{n * 0.02:.2f} F1200")
    return ("\n".join(out) + "\n").encode()


def start_server(data: Path, printers: int, port: int, tree: Path) -> subprocess.Popen:
    config = data / "farm.toml"
    config.write_text("".join(f'[[printers]]\nname = "farm-{n:02d}"\nport = "sim"\nprofile = "marlin2"\n\n'
                              for n in range(1, printers + 1)))
    env = dict(os.environ, PYTHONPATH=str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "farmctl", "serve", "--config", str(config), "--data",
                             str(data), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=tree, env=env)


def stop_server(server: subprocess.Popen) -> None:
    """The server and what it started (its print checks), as one process group."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_for_printers(url: str, key: str, printers: int, state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cards = requests.get(f"{url}/api/farm/printers", headers={"X-Api-Key": key}, timeout=5).json()["printers"]
            if sum(card["state"]["text"] == state for card in cards) == printers:
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"not all {printers} printers became {state} within {timeout:.0f} s")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def open_farm_view(context: Any, url: str, printers: int, counter: list[int] | None = None) -> Any:
    page = await context.new_page()
    if counter is not None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: counter.__setitem__(
            0, counter[0] + len(payload.encode() if isinstance(payload, str) else payload))))
    await page.goto(url + "/#/farm")
    await page.wait_for_function(f"document.querySelectorAll('.card').length === {printers}", timeout=60_000)
    return page


async def idle_cpu(server: subprocess.Popen, seconds: float) -> float:
    """Share of a core the server used over a window with no tab open."""
    start = cpu_seconds(server.pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(server.pid) - start) / seconds


async def measure(url: str, key: str, printers: int, server: subprocess.Popen, args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        await context.add_init_script(f"localStorage.setItem('farmctl.apikey', {key!r})")

        renders = []
        for _ in range(args.loads):
            page = await open_farm_view(context, url, printers)
            renders.append(await page.evaluate("performance.now()") / 1000)
            await page.close()

        idle = [await idle_cpu(server, args.seconds)]
        busy, rates = [], []
        for _ in range(args.rounds):
            counters = [[0] for _ in range(args.tabs)]
            pages = [await open_farm_view(context, url, printers, counter) for counter in counters]
            await asyncio.sleep(2)  # past the snapshots: count the steady diffs only
            for counter in counters:
                counter[0] = 0
            start = cpu_seconds(server.pid)
            await asyncio.sleep(args.seconds)
            busy.append((cpu_seconds(server.pid) - start) / args.seconds)
            rates.append(statistics.mean(counter[0] for counter in counters) / args.seconds)
            for page in pages:
                await page.close()
            idle.append(await idle_cpu(server, args.seconds))
        await browser.close()

    per_tab = [(open_cpu - (before + after) / 2) / args.tabs * 100
               for open_cpu, before, after in zip(busy, idle, idle[1:])]
    print(f"{printers} printers printing, {len(renders)} fresh loads, {args.rounds} rounds of {args.seconds:.0f} s "
          f"windows, {args.tabs} tabs; load average {load_average()}\n")
    print(f"  first render of the farm view: median {statistics.median(renders):.2f} s, "
          f"range {min(renders):.2f}-{max(renders):.2f} s   (target < 1.5 s)")
    print(f"  pushed to one tab: {statistics.mean(rates) / 1024:.2f} KB/s, "
          f"range {min(rates) / 1024:.2f}-{max(rates) / 1024:.2f}   (target < 20 KB/s)")
    print(f"  server CPU, % of a core: no tab {', '.join(f'{c * 100:.1f}' for c in idle)}; "
          f"{args.tabs} tabs {', '.join(f'{c * 100:.1f}' for c in busy)}")
    print(f"  server CPU per open tab: median {statistics.median(per_tab):.2f} % of a core, "
          f"rounds {', '.join(f'{c:.2f}' for c in per_tab)}   (target < 2 %)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printers", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each CPU window")
    parser.add_argument("--rounds", type=int, default=3, help="windows with tabs open (each between idle ones)")
    parser.add_argument("--tabs", type=int, default=8)
    parser.add_argument("--loads", type=int, default=5, help="fresh loads timed for the first render")
    parser.add_argument("--tree", type=Path, default=ROOT, metavar="DIR",
                        help="run the server from this farmctl source tree (default: this one)")
    args = parser.parse_args()
    queue_bench = _queue_bench()
    with tempfile.TemporaryDirectory(prefix="farmctl-bench-") as folder:
        data = Path(folder) / "data"
        data.mkdir()
        asyncio.run(queue_bench.fill(data, args.jobs))
        port = queue_bench.free_port()
        key = subprocess.run([sys.executable, "-m", "farmctl", "keys", "add", "bench", "--role", "admin",
                              "--data", str(data)], check=True, capture_output=True, text=True).stdout.split()[-1]
        server = start_server(data, args.printers, port, args.tree.resolve())
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_printers(url, key, args.printers, "Operational")
            headers = {"X-Api-Key": key}
            upload = requests.post(f"{url}/api/farm/files", headers=headers, timeout=120,
                                   files={"file": ("long.gcode", long_part())})
            upload.raise_for_status()
            names = [f"farm-{n:02d}" for n in range(1, args.printers + 1)]
            started = requests.post(f"{url}/api/farm/bulk", headers=headers, timeout=300,
                                    json={"action": "print", "printers": names, "path": "long.gcode"}).json()
            failed = [r for r in started["results"] if r["error"]]
            if failed:
                raise SystemExit(f"could not start every print: {failed}")
            wait_for_printers(url, key, args.printers, "Printing")
            print(f"server from {args.tree}; {args.jobs} jobs in the queue")
            asyncio.run(measure(url, key, args.printers, server, args))
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
