"""Dashboard benchmark: the farm view with 16 simulated printers printing and 10,000 queued jobs.

Fills a fresh data folder with 10,000 jobs (as bench/queue.py does), starts ``farmctl serve`` in a
child process with 16 simulated printers at real wire and move timing, starts a long print on
every printer, then opens the page in Debian's chromium and measures:

- first render: from the navigation's start until all 16 cards show (the page's own clock),
  median of several fresh loads;
- push bytes: what the push channel sends one open tab per second (its websocket frames);
- server CPU per tab: the server's CPU with N tabs open minus its CPU with none, over the same
  time, divided by N (the printing farm's own CPU is the baseline, measured in the same run).

    python bench/dashboard.py                 # 16 printers, 10,000 jobs, 20 s windows, 4 tabs
    python bench/dashboard.py --seconds 30 --tabs 8
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

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


def long_part(lines: int = 200_000) -> bytes:
    """Short moves at 20 mm/s with extrusion: hours of printing, so every printer prints throughout."""
    out = ["G90", "M82", "G92 E0", "G1 Z0.3 F600"]
    for n in range(lines):
        out.append(f"G1 X{100 + (n % 40) * 0.5:.1f} Y{100 + (n // 40 % 40) * 0.5:.1f} E{n * 0.02:.2f} F1200")
    return ("\n".join(out) + "\n").encode()


def start_server(data: Path, printers: int, port: int) -> subprocess.Popen:
    config = data / "farm.toml"
    config.write_text("".join(f'[[printers]]\nname = "farm-{n:02d}"\nport = "sim"\nprofile = "marlin2"\n\n'
                              for n in range(1, printers + 1)))
    return subprocess.Popen([sys.executable, "-m", "farmctl", "serve", "--config", str(config), "--data",
                             str(data), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_printers(url: str, key: str, printers: int, state: str, timeout: float = 60) -> None:
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


async def measure(url: str, key: str, printers: int, server: subprocess.Popen, seconds: float, tabs: int,
                  loads: int) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        await context.add_init_script(f"localStorage.setItem('farmctl.apikey', {key!r})")

        renders = []
        for _ in range(loads):
            page = await context.new_page()
            await page.goto(url + "/#/farm")
            await page.wait_for_function(f"document.querySelectorAll('.card').length === {printers}", timeout=30_000)
            renders.append(await page.evaluate("performance.now()") / 1000)
            await page.close()

        idle_start = cpu_seconds(server.pid)
        await asyncio.sleep(seconds)
        idle_cpu = cpu_seconds(server.pid) - idle_start

        received = [0]
        pages = []
        for n in range(tabs):
            page = await context.new_page()
            if n == 0:
                page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(
                    0, received[0] + len(payload if isinstance(payload, (bytes, str)) else str(payload)))))
            await page.goto(url + "/#/farm")
            await page.wait_for_function(f"document.querySelectorAll('.card').length === {printers}")
            pages.append(page)
        await asyncio.sleep(2)  # past the snapshot: count the steady diffs only
        received[0] = 0
        open_start = cpu_seconds(server.pid)
        await asyncio.sleep(seconds)
        open_cpu = cpu_seconds(server.pid) - open_start
        pushed = received[0]
        await browser.close()

    per_tab = (open_cpu - idle_cpu) / tabs / seconds * 100
    print(f"{printers} printers printing, {len(renders)} fresh loads, {seconds:.0f} s windows, {tabs} tabs\n")
    print(f"  first render of the farm view: median {statistics.median(renders):.2f} s, "
          f"max {max(renders):.2f} s   (target < 1.5 s)")
    print(f"  pushed to one tab: {pushed / seconds / 1024:.1f} KB/s   (target < 20 KB/s)")
    print(f"  server CPU: {idle_cpu / seconds * 100:.1f} % of a core with no tab (the printing farm), "
          f"{open_cpu / seconds * 100:.1f} % with {tabs} tabs")
    print(f"  server CPU per open tab: {per_tab:.2f} % of a core   (target < 2 %)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printers", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tabs", type=int, default=4)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    queue_bench = _queue_bench()
    with tempfile.TemporaryDirectory(prefix="farmctl-bench-") as folder:
        data = Path(folder) / "data"
        data.mkdir()
        asyncio.run(queue_bench.fill(data, args.jobs))
        port = queue_bench.free_port()
        key = subprocess.run([sys.executable, "-m", "farmctl", "keys", "add", "bench", "--role", "admin",
                              "--data", str(data)], check=True, capture_output=True, text=True).stdout.split()[-1]
        server = start_server(data, args.printers, port)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_printers(url, key, args.printers, "Operational")
            headers = {"X-Api-Key": key}
            upload = requests.post(f"{url}/api/farm/files", headers=headers, timeout=60,
                                   files={"file": ("long.gcode", long_part())})
            upload.raise_for_status()
            names = [f"farm-{n:02d}" for n in range(1, args.printers + 1)]
            started = requests.post(f"{url}/api/farm/bulk", headers=headers, timeout=30,
                                    json={"action": "print", "printers": names, "path": "long.gcode"}).json()
            failed = [r for r in started["results"] if r["error"]]
            if failed:
                raise SystemExit(f"could not start every print: {failed}")
            wait_for_printers(url, key, args.printers, "Printing")
            print(f"{args.jobs} jobs in the queue")
            asyncio.run(measure(url, key, args.printers, server, args.seconds, args.tabs, args.loads))
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
