"""Shared uploads benchmark: what it costs node B to get node A's upload before printing it.

Two farmctl nodes in one process on a fresh PostgreSQL database (created and dropped here), each
with its HTTP app on 127.0.0.1. A file of ``--mb`` megabytes of G-code is stored on node A the
way an upload is (hashed in the same pass) and recorded; then node B makes sure it holds it
(``SharedUploads.ensure``, what its driver does before a print):

- from node A over a signed HTTP download, verified, renamed into place (the same pass as an
  upload: the file is analysed as it arrives, so B knows its print time and filament too);
- from the shared folder (``shared_uploads``), verified, renamed into place;
- the check before a later print, when B already holds the file: first look (hashes the file
  once), then the remembered hash (file unchanged).

Baselines measured in the same run: a plain copy of the file (``shutil.copyfile``), one SHA-256
pass over it, and node A storing it as an upload (``save_stream``). Medians of ``--runs`` runs.

    python bench/shared_uploads.py                      # 20 MB, 3 runs
    python bench/shared_uploads.py --mb 200 --runs 3
    FARMCTL_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres python bench/shared_uploads.py
"""

from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's queue: take bench/ off sys.path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import hashlib  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from aiohttp import web  # noqa: E402

from farmctl.farm.config import FarmConfig, PrinterConfig  # noqa: E402
from farmctl.farm.farm import Farm, SimOptions  # noqa: E402
from farmctl.http.app import build_main_app  # noqa: E402


def gcode(megabytes: int) -> bytes:
    line = b"G1 X100.25 Y100.75 E0.0215 F1800\n"
    return line * (megabytes * (1 << 20) // len(line))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def with_database(server: str, run):  # noqa: ANN001, ANN201
    import asyncpg

    name = f"farmctl_bench_shared_{os.getpid()}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        return await run(server.rsplit("/", 1)[0] + "/" + name)
    finally:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def start_node(root: Path, name: str, database: str, share: Path) -> tuple[Farm, web.AppRunner]:
    port = free_port()
    config = FarmConfig(printers=(PrinterConfig(f"{name}-p1", "sim", profile="marlin2"),), node=name,
                        node_url=f"http://127.0.0.1:{port}", database=database, shared_uploads=share)
    farm = Farm(config, root / name, sim=SimOptions(full_speed=True, time_scale=0.0))
    await farm.start()
    runner = web.AppRunner(build_main_app(farm), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return farm, runner


async def timed(make) -> float:  # noqa: ANN001
    start = time.perf_counter()
    await make()
    return time.perf_counter() - start


async def bench(database: str, megabytes: int, runs: int) -> None:
    data = gcode(megabytes)
    with tempfile.TemporaryDirectory(prefix="farmctl-bench-shared-") as tmp:
        root = Path(tmp)
        source = root / "source.gcode"
        source.write_bytes(data)
        share = root / "share"
        a, a_runner = await start_node(root, "a", database, share)
        b, b_runner = await start_node(root, "b", database, root / "no-share")
        try:
            async def one_block():
                yield data
            saved = await a.uploads.save_stream("part.gcode", one_block())
            await a.file_stored(saved)  # recorded, and copied to the share

            results: dict[str, list[float]] = {k: [] for k in ("copy", "sha256", "save", "peer", "share", "first",
                                                               "again")}
            target = b.uploads_dir / "part.gcode"
            for _ in range(runs):
                results["copy"].append(await timed(lambda: asyncio.to_thread(shutil.copyfile, source, root / "c")))
                results["sha256"].append(await timed(lambda: asyncio.to_thread(
                    lambda: hashlib.sha256(source.read_bytes()).hexdigest())))
                results["save"].append(await timed(lambda: a.uploads.save_stream("again.gcode", one_block())))
                target.unlink(missing_ok=True)
                b.shared_uploads._shared = None  # noqa: SLF001 - this run: from node A only
                results["peer"].append(await timed(lambda: b.shared_uploads.ensure("part.gcode")))
                assert target.read_bytes() == data
                target.unlink()
                b.shared_uploads._shared = share  # noqa: SLF001 - this run: from the shared folder
                results["share"].append(await timed(lambda: b.shared_uploads.ensure("part.gcode")))
                os.utime(target)  # a new mtime: the next check hashes the file again
                results["first"].append(await timed(lambda: b.shared_uploads.ensure("part.gcode")))
                results["again"].append(await timed(lambda: b.shared_uploads.ensure("part.gcode")))
        finally:
            for runner in (a_runner, b_runner):
                await runner.cleanup()
            for farm in (a, b):
                await farm.stop()
    median = {k: statistics.median(v) for k, v in results.items()}
    mb = len(data) / (1 << 20)
    print(f"file: {mb:.0f} MB of G-code, medians of {runs} runs")
    print(f"  baseline plain copy        {median['copy'] * 1000:8.1f} ms  ({mb / median['copy']:7.0f} MB/s)")
    print(f"  baseline one SHA-256 pass  {median['sha256'] * 1000:8.1f} ms  ({mb / median['sha256']:7.0f} MB/s)")
    print(f"  baseline an upload's pass  {median['save'] * 1000:8.1f} ms  ({mb / median['save']:7.1f} MB/s: "
          "write, SHA-1, SHA-256, G-code analysis, thumbnails)")
    for key, what in (("peer", "from node A + verify"), ("share", "from shared folder + verify")):
        print(f"  {what:27s}{median[key] * 1000:8.1f} ms  ({mb / median[key]:7.1f} MB/s, "
              f"{median[key] / median['save']:.2f}x an upload's pass)")
    print(f"  check before a print, file changed   {median['first'] * 1000:8.1f} ms "
          f"({median['first'] / median['sha256']:.2f}x one SHA-256 pass)")
    print(f"  check before a print, file unchanged {median['again'] * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", default=os.environ.get("FARMCTL_TEST_POSTGRES"),
                        help="a PostgreSQL URL a database may be created from (default: $FARMCTL_TEST_POSTGRES)")
    args = parser.parse_args()
    if not args.server:
        sys.exit("bench/shared_uploads.py needs PostgreSQL: --server postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(with_database(args.server, lambda url: bench(url, args.mb, args.runs)))


if __name__ == "__main__":
    main()
