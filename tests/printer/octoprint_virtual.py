"""OctoPrint's own virtual printer (the ``octoprint`` package's ``virtual_printer`` plugin) behind a real pty.

OctoPrint talks to it as a Python object with ``write`` and ``readline``; here two threads carry
bytes between it and a pseudo-terminal, so farmctl opens it with pyserial like any port. Its
``write`` is fed one line per call, as OctoPrint's own serial code calls it: the virtual printer
takes one line from each call it receives, so several lines in one call would wait for later calls
and its answers fall behind, which no firmware reading a serial port does. A host write waits while
its 64-byte receive queue is full, as a USB port's flow control would. Every line it reads and
answers is recorded (its serial log), in order: the oracle farmctl did not write.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import tty
from pathlib import Path
from typing import Any

_initialised = threading.Lock()
_ready = False


def _octoprint_settings() -> None:
    """OctoPrint's settings and plugin manager, once per process, in a folder of their own."""
    global _ready
    with _initialised:
        if _ready:
            return
        from octoprint.plugin import plugin_manager
        from octoprint.settings import settings

        settings(init=True, basedir=tempfile.mkdtemp(prefix="octoprint-"))
        plugin_manager(init=True, plugin_folders=[], plugin_entry_points=[], plugin_disabled_list=[])
        _ready = True


class _Lines(logging.Handler):
    """The virtual printer's serial log: ``<<< line`` for each line written to it, ``>>> line`` for each it sent."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.received: list[str] = []
        self.answered: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(">>> "):
            self.answered.append(message[4:])
        elif message.startswith("<<< "):
            self.received.append(message[4:].strip())


class OctoPrintVirtualPrinter:
    """``with OctoPrintVirtualPrinter(resend_ratio=10) as vp: Printer(..., vp.path)``; ``vp.answered``."""

    def __init__(self, **options: Any) -> None:
        _octoprint_settings()
        from octoprint.plugin import plugin_settings
        from octoprint.plugins.virtual_printer import VirtualPrinterPlugin
        from octoprint.plugins.virtual_printer.virtual import VirtualPrinter

        defaults = {**VirtualPrinterPlugin().get_settings_defaults(), **options}
        self._log = _Lines()
        self._folder = tempfile.mkdtemp(prefix="virtual-printer-")
        self._printer = VirtualPrinter(plugin_settings("virtual_printer", defaults=defaults), None, self._folder,
                                       seriallog_handler=self._log, read_timeout=0.05)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._host_to_printer, daemon=True),
                         threading.Thread(target=self._printer_to_host, daemon=True)]

    @property
    def answered(self) -> list[str]:
        return list(self._log.answered)

    @property
    def received(self) -> list[str]:
        return list(self._log.received)

    def __enter__(self) -> OctoPrintVirtualPrinter:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._printer.close()
        os.close(self._slave)  # the master's read ends with EIO
        for thread in self._threads:
            thread.join(5)
        os.close(self._master)

    def _host_to_printer(self) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._feed(line + b"\n")

    def _feed(self, line: bytes) -> None:
        """One line into the virtual printer once its receive queue has room for it. Its ``write``
        waits for room holding the lock its reader needs to ask for a resend: a write that waits
        there can deadlock it until the write times out."""
        while line and not self._stop.is_set():
            incoming = self._printer.incoming
            if incoming is None:
                return  # closed
            room = incoming.maxsize - incoming.qsize()
            if room < min(len(line), incoming.maxsize):
                time.sleep(0.0005)
                continue
            line = line[self._printer.write(line[:room]):]

    def _printer_to_host(self) -> None:
        while not self._stop.is_set():
            try:
                line = self._printer.readline()
            except Exception:  # noqa: BLE001 - closed under us
                return
            if line:
                os.write(self._master, line if line.endswith(b"\n") else line + b"\n")
