from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from auth_helpers import FakeClock

from farmctl.auth import AuthService
from farmctl.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "farmctl.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(db_path)
    yield store
    await store.close()


@pytest.fixture
def auth(store: Store, clock: FakeClock) -> AuthService:
    return AuthService(store, clock=clock)
