"""One chromium for every browser test of the dashboard (launching it costs seconds on this machine).

The browser lives on the session's event loop, so the browser test modules run their tests and
their module fixtures on that loop too (``pytest.mark.asyncio(loop_scope="session")``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from dashboard_harness import CHROMIUM, chromium


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install chromium")
    async with chromium() as launched:
        yield launched
