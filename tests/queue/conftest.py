from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from queue_helpers import Clock

from farmctl.queue import QueueModel
from farmctl.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
async def model(db_path: Path) -> AsyncIterator[QueueModel]:
    store = await Store.open(db_path)
    yield QueueModel.over(store, clock=Clock())
    await store.close()
