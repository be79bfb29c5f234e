from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import Database
from queue_helpers import Clock

from farmctl.queue import QueueModel
from farmctl.store import Store


@pytest.fixture
async def model(database: Database) -> AsyncIterator[QueueModel]:
    store = await Store.open(database)
    yield QueueModel.over(store, clock=Clock())
    await store.close()
