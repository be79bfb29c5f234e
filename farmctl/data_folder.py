"""The data folder (queue database, uploads, log): made and proven writable before anything uses it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from farmctl.errors import FarmctlError

DATABASE_NAME = "farmctl.db"
"""The queue database's file in the data folder, unless farm.toml names a database server."""


def make_writable(*folders: Path) -> None:
    """Make the folders and prove each can be written, before anything depends on it: a read-only
    mount or a wrong owner is told in one line at start-up, not found at the first finished print."""
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise FarmctlError(f"the data folder {folder} cannot be written ({exc.strerror or exc}): farmctl "
                               "keeps its queue, uploads and log there; make it writable (a read-write mount, "
                               "its owner) and start again", 500) from None
