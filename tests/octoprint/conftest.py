"""Fixtures: a farm of two simulated printers (``p1``, ``p2``) served over HTTP from a thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from octoprint_helpers import FarmServer, printers


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FarmServer]:
    farm = FarmServer(tmp_path / "data", printers("p1", "p2")).start()
    try:
        yield farm
    finally:
        farm.stop()
