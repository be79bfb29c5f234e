"""Checking a G-code file before a print, away from the event loop.

``check_job`` is pure Python over every line: for a 100 MB file that is seconds of CPU. In a
thread of the server it would hold the GIL in 5 ms slices against the event loop and every port's
thread, each of which gives it up at every system call (measured: the loop 380 ms late, another
printer's print down from 1,079 to 162 lines/s). So a big file is checked in a child process
(``python -m farmctl.job_check FILE MAX_LINE_LENGTH``, which answers one JSON line), and a cancel
kills it. A small file, such as an event script, is checked in a thread: a few milliseconds, less
than a process start.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from farmctl.errors import FarmctlError
from farmctl.job import JobSummary, check_job

IN_PROCESS_BELOW = 256 * 1024
"""Files smaller than this (some 8,000 lines, well under 50 ms to check) are checked in a thread."""


async def check_job_aside(path: Path, max_line_length: int, checked: JobSummary | None = None) -> JobSummary:
    """``check_job`` without holding up the event loop; cancelling it stops the check at once.

    ``checked``: this file's summary from an earlier check, trusted while the file is unchanged.
    """
    if checked is not None and checked.path == path and await asyncio.to_thread(checked.still_holds, max_line_length):
        return checked
    try:
        size = await asyncio.to_thread(lambda: path.stat().st_size if path.is_file() else -1)
    except OSError as exc:
        raise FarmctlError(f"{path}: {exc.strerror}") from None
    if size < IN_PROCESS_BELOW:
        return await asyncio.to_thread(check_job, path, max_line_length)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "farmctl.job_check", str(path), str(max_line_length),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    try:
        out, err = await child.communicate()
    except BaseException:
        if child.returncode is None:
            child.kill()
        raise
    try:
        answer = json.loads(out)
    except ValueError:
        raise FarmctlError(f"{path.name}: the check failed: {err.decode(errors='replace').strip() or 'no answer'}",
                           500) from None
    if "error" in answer:
        raise FarmctlError(answer["error"], answer["status"])
    return JobSummary(path, answer["size"], answer["commands"])


def main(argv: list[str]) -> int:
    path, max_line_length = Path(argv[0]), int(argv[1])
    try:
        summary = check_job(path, max_line_length)
    except FarmctlError as exc:
        answer: dict[str, object] = {"error": exc.message, "status": exc.status}
    else:
        answer = {"size": summary.size, "commands": summary.commands}
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
