"""kill -9 of ``farmctl serve`` in the middle of an upload, then a restart on the same data folder."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from server_helpers import ServerProcess, wait_until

pytestmark = pytest.mark.timeout(60)


def multipart(name: str, content: bytes, boundary: str, pace: float) -> Iterator[bytes]:
    """An OctoPrint upload body, sent slowly (``pace`` seconds between 64 KiB pieces)."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for start in range(0, len(content), 65536):
        yield content[start:start + 65536]
        time.sleep(pace)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_an_upload_cut_off_by_kill_9_leaves_neither_its_file_nor_its_temp_file(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, '[[printers]]\nname = "p1"\nport = "sim"\nprofile = "marlin2"\n')
    try:
        server.start()
        key = server.add_key("admin")
        sending = threading.Thread(target=lambda: _post_quietly(
            f"{server.url}/api/files/local", key, multipart("cut.gcode", b"G1 X1 Y1\n" * 400_000, "b0", 0.02), "b0"))
        sending.start()
        wait_until(lambda: list(server.uploads.glob(".upload-*.part")), 10, "the upload to be under way")
        server.kill()
        sending.join(10)
        server.start()
        files = requests.get(f"{server.url}/api/files", headers={"X-Api-Key": key}, timeout=10).json()["files"]
        assert files == []
        assert [p.name for p in server.uploads.iterdir()] == []
    finally:
        server.kill()


def _post_quietly(url: str, key: str, body: Iterator[bytes], boundary: str) -> None:
    try:
        requests.post(url, data=body, timeout=10, headers={
            "X-Api-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    except (requests.ConnectionError, requests.Timeout):
        pass
