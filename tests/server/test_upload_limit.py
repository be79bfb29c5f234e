"""An upload over farm.toml's ``max_upload_mb`` is a 413 with ``{"error"}`` and leaves nothing behind:
no file, no hidden temp file, no folder made for it, and an older file of that name untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from server_helpers import ServerProcess, everything_in, farm_toml

pytestmark = pytest.mark.timeout(45)

MB = 1 << 20


def gcode(size: int) -> bytes:
    line = b"G1 X10 Y10 E0.1\n"
    return (line * (size // len(line) + 1))[:size]


@pytest.fixture
def limited(tmp_path: Path):
    server = ServerProcess(tmp_path, "max_upload_mb = 1\n\n" + farm_toml("p1"))
    try:
        server.start()
        server.add_key("admin")
        yield server
    finally:
        server.kill()


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(limited: ServerProcess) -> None:
    headers = {"X-Api-Key": limited.keys["admin"]}
    url = f"{limited.url}/api/files/local"
    kept = requests.post(url, headers=headers, files={"file": ("part.gcode", gcode(MB - 4096))}, timeout=30)
    assert kept.status_code == 201, kept.text  # under the limit: fine
    before = everything_in(limited.uploads)
    assert before == ["part.gcode"]

    for form in ({}, {"path": "new/folder"}):  # a folder the upload would have needed is not left either
        for name in ("big.gcode", "part.gcode"):  # a new name, and one that replaces an older file
            response = requests.post(url, headers=headers, data=form, timeout=30,
                                     files={"file": (name, gcode(MB + 512 * 1024))})
            assert response.status_code == 413, response.text
            assert "limit" in response.json()["error"]
            assert everything_in(limited.uploads) == before
    assert (limited.uploads / "part.gcode").read_bytes() == gcode(MB - 4096)

    listed = requests.get(url, headers=headers, timeout=10).json()["files"]
    assert [f["name"] for f in listed] == ["part.gcode"]
    dashboard = requests.post(f"{limited.url}/api/farm/files", headers=headers, timeout=30,
                              files={"file": ("big.gcode", gcode(2 * MB))})
    assert dashboard.status_code == 413 and "error" in dashboard.json()
    assert everything_in(limited.uploads) == before
