"""The serial hot path's designs side by side: CPU per acknowledged line, one and many printers.

Each design runs as a host process of its own (so each is measured alone and starts cold), streaming
a wire-bound job at 250000 baud to simulated Marlins in child processes that write each reply line by
itself, 2 ms after the line it answers. Designs, all over the same sender and link code:

* ``threads``   a thread per port (farmctl's default);
* ``reactor``   one thread polling every port with epoll (``farmctl.reactor``);
* ``compiled``  the reactor with the hot modules compiled by Cython from the same Python source
                (built here into a temporary copy of the package unless ``--compiled-tree`` names one;
                needs ``pip install cython`` in the venv: farmctl itself does not depend on it);
* ``workers``   the printers split over ``--workers`` processes, each a reactor for its share: the
                upper bound of moving serial work out of the main process (no queue, store or HTTP in
                it, no messages between processes), CPU summed over the workers;
* ``serial-workers`` farmctl's own serial workers (``farmctl.workers``, farm.toml's ``serial_workers``):
                the printers in one host process whose ports ``--workers`` worker processes serve, with
                the messages between them; CPU of the host and its workers together.

    python bench/designs.py                              # 1 and 16 printers, 3,000 lines each, twice
    python bench/designs.py --printers 16 --repeat 3 --design threads --design reactor
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # bench/queue.py would shadow the standard library's queue

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ["threads", "reactor", "compiled", "workers", "serial-workers"]
HOT_MODULES = ["protocol/sender.py", "protocol/replies.py", "protocol/gcode.py", "link.py", "job.py", "reactor.py",
               "terminal.py"]


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host(printers: int, lines: int, serve: str, workers: int = 2) -> dict[str, float]:
    """Stream one job to each of ``printers`` simulators from this process; CPU and wall time of the printing."""
    from farmctl.printer import JobOutcome, Printer
    from farmctl.reactor import Reactor
    from farmctl.workers import SerialWorkers
    from farmctl.sim import Delivery
    from farmctl.sim.process import SimulatorProcess

    sys.path.insert(0, str(ROOT / "bench"))
    from stream import JOBS, write_job  # type: ignore[import-not-found]

    workdir = Path(tempfile.mkdtemp(prefix="farmctl-designs-"))
    job = workdir / "job.gcode"
    write_job(job, next(j for j in JOBS if j.name == "wire-bound"), lines)

    async def run(paths: list[str]) -> dict[str, float]:
        serving = {"reactor": Reactor, "serial-workers": lambda: SerialWorkers(workers)}.get(serve, lambda: None)()
        farm = [Printer(f"p{i}", path, 250000, "marlin2", handshake_timeout=20, serving=serving)
                for i, path in enumerate(paths)]
        await asyncio.gather(*(p.connect() for p in farm))
        pids = serving.pids if isinstance(serving, SerialWorkers) else []
        cpu0, wall0 = time.process_time() + sum(_cpu(pid) for pid in pids), time.perf_counter()
        results = await asyncio.gather(*(p.print_file(job) for p in farm))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() + sum(_cpu(pid) for pid in pids) - cpu0
        await asyncio.gather(*(p.disconnect() for p in farm))
        if isinstance(serving, SerialWorkers):
            await serving.close()
        failed = [r.reason for r in results if r.outcome != JobOutcome.DONE]
        if failed:
            raise SystemExit(f"a print failed: {failed[0]}")
        return {"cpu": cpu, "wall": wall, "lines": float(sum(r.commands_acknowledged for r in results))}

    with ExitStack() as stack:
        sims = [stack.enter_context(SimulatorProcess("marlin2", baud=250000, latency=0.002, time_scale=0.0,
                                                     delivery=Delivery.LINES)) for _ in range(printers)]
        result = asyncio.run(run([sim.path for sim in sims]))
    shutil.rmtree(workdir)
    return result


def build_compiled(into: Path) -> Path:
    """A copy of the package with the hot modules compiled by Cython (the .py files stay as they are)."""
    shutil.copytree(ROOT / "farmctl", into / "farmctl", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copytree(ROOT / "firmware_profiles", into / "firmware_profiles")
    cythonize = Path(sys.executable).with_name("cythonize")
    subprocess.run([str(cythonize), "-i", "-3", "-q", *(f"farmctl/{m}" for m in HOT_MODULES)], cwd=into, check=True,
                   stdout=subprocess.DEVNULL)
    return into


def run_host(printers: int, lines: int, serve: str, pythonpath: Path | None = None,
             workers: int = 2) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (pythonpath, ROOT) if p is not None)
    return subprocess.Popen([sys.executable, __file__, "--host", serve, "--printers", str(printers),
                             "--lines", str(lines), "--workers", str(workers)], stdout=subprocess.PIPE, text=True,
                            env=env)


def measure(design: str, printers: int, lines: int, workers: int, compiled: Path | None) -> dict[str, float]:
    if design == "workers":
        shares = [printers // workers + (1 if i < printers % workers else 0) for i in range(workers)]
        processes = [run_host(share, lines, "reactor") for share in shares if share]
    elif design == "serial-workers":
        processes = [run_host(printers, lines, design, workers=workers)]
    else:
        processes = [run_host(printers, lines, "threads" if design == "threads" else "reactor",
                              compiled if design == "compiled" else None)]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{design}: host process failed")
        results.append(json.loads(out.strip().splitlines()[-1]))
    cpu, acked = sum(r["cpu"] for r in results), sum(r["lines"] for r in results)
    wall = max(r["wall"] for r in results)
    return {"cpu_ms": cpu / acked * 1000, "lines_s": acked / wall, "cores": cpu / wall,
            "processes": len(results) + (min(workers, printers) if design == "serial-workers" else 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printers", type=int, action="append", help="repeatable; default 1 and 16")
    parser.add_argument("--lines", type=int, default=3000, help="lines per printer")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="processes for the workers design")
    parser.add_argument("--design", action="append", choices=DESIGNS, help="repeatable; default all")
    parser.add_argument("--compiled-tree", type=Path, help="a copy of the package with compiled hot modules")
    parser.add_argument("--host", choices=["threads", "reactor", "serial-workers"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host:
        print(json.dumps(host(args.printers[0], args.lines, args.host, args.workers)))
        return
    designs = args.design or DESIGNS
    with tempfile.TemporaryDirectory() as tmp:
        compiled = args.compiled_tree
        if "compiled" in designs and compiled is None:
            print("compiling the hot modules with Cython ...", flush=True)
            compiled = build_compiled(Path(tmp))
        print(f"wire-bound job, 250000 baud, 2 ms latency, one reply per write, {args.lines} lines per printer; "
              f"CPU of the host process(es) while printing\n")
        header = f"{'printers':>8} {'design':14} {'procs':>5} {'CPU ms/line':>11} {'x threads':>9} {'lines/s':>8} {'cores':>6}"
        print(header)
        print("-" * len(header))
        for _ in range(args.repeat):
            for printers in args.printers or [1, 16]:
                baseline = None
                for design in designs:
                    r = measure(design, printers, args.lines, args.workers, compiled)
                    baseline = baseline or (r["cpu_ms"] if design == "threads" else None)
                    ratio = f"{r['cpu_ms'] / baseline:9.2f}" if baseline else f"{'':9}"
                    print(f"{printers:>8} {design:14} {r['processes']:>5} {r['cpu_ms']:>11.3f} {ratio} "
                          f"{r['lines_s']:>8.0f} {r['cores']:>6.2f}", flush=True)
        print("\nx threads = CPU per line relative to a thread per port in the same round; "
              "cores = host CPU seconds per wall second")


if __name__ == "__main__":
    main()
