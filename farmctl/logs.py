"""The server's log file: ``farmctl.log`` in the data folder, rotated, at INFO by default.

INFO is what an operator audits: keys created and revoked, logins, app-key decisions, prints
started and ended with their result, printer errors and state changes. A record a printer made
names it (``printer 'mk3-left': ...``). No key, password or session token is ever a log argument.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from farmctl.data_folder import make_writable
from farmctl.errors import FarmctlError

LOG_NAME = "farmctl.log"
MAX_BYTES = 5 << 20
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrinterFormatter(logging.Formatter):
    """Puts the printer's name (a ``printer`` extra, as each Printer's LoggerAdapter sets) first."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        name = getattr(record, "printer", None)
        if name is not None and not record.message.startswith(f"printer '{name}'"):
            record.message = f"printer {name!r}: {record.message}"
        return super().formatMessage(record)


def log_to_file(data_dir: Path, level: int = logging.INFO) -> Path:
    """Add the rotating log file to the root logger; the terminal keeps its own (quieter) level."""
    path = data_dir / LOG_NAME
    make_writable(data_dir)
    try:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8")
    except OSError as exc:
        raise FarmctlError(f"cannot write the log file {path}: {exc.strerror}") from None
    handler.setLevel(level)
    handler.setFormatter(PrinterFormatter(FORMAT))
    root = logging.getLogger()
    for existing in root.handlers:  # the terminal's handler keeps the level the command line chose
        if existing.level == logging.NOTSET:
            existing.setLevel(root.level)
            existing.setFormatter(PrinterFormatter(existing.formatter._fmt if existing.formatter else FORMAT))
    root.addHandler(handler)
    root.setLevel(min(root.level, level))
    return path
