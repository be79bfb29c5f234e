"""Hypothesis runs 200 examples per property in the suite; HYPOTHESIS_PROFILE=thorough hunts for more.

A property whose examples cost real time (a print over a pty) sets its own smaller count."""

import os

from hypothesis import settings

settings.register_profile("suite", max_examples=200, deadline=None)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


# -- the store backends (see databases.py) ---------------------------------------------------------

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from databases import (  # noqa: E402
    NO_POSTGRES, Database, PostgresDatabase, create_database, drop_database, postgres_server,
)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A PostgreSQL database for the whole session, dropped after it."""
    server = postgres_server()
    if server is None:
        pytest.skip(NO_POSTGRES)
    url = create_database(server, "session")
    yield PostgresDatabase(url)
    drop_database(server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """Where the store lives, once per backend: a new SQLite file, or the session's PostgreSQL
    database as a fresh install leaves it."""
    if request.param == "sqlite":
        return tmp_path / "farmctl.db"
    return request.getfixturevalue("postgres_database").fresh_install()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A database with no table at all, once per backend, for the migrations' own tests."""
    if request.param == "sqlite":
        return tmp_path / "farmctl.db"
    return request.getfixturevalue("postgres_database").empty()
