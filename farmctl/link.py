"""The serial link: moves bytes between a pyserial port and a Sender without ever blocking the loop.

Ports with a file descriptor (USB serial devices, pseudo-terminals) are read and written through
the event loop's reader/writer callbacks; pyserial URLs without one fall back to a reader thread.
Opening and closing happen in a worker thread because both can stall on a misbehaving USB device.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable

import serial

from farmctl.errors import FarmctlError
from farmctl.profiles import FirmwareProfile
from farmctl.protocol.sender import Event, Sender

log = logging.getLogger(__name__)


class PortGone(Exception):
    """The port vanished (unplugged, or the device reset its USB interface)."""


def open_port(port: str, baud: int) -> serial.SerialBase:
    """Open a device path, pty path or pyserial URL for raw, non-blocking use."""
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0, write_timeout=0, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise FarmctlError(f"cannot open {port}: {exc}") from exc


class SerialLink:
    """One printer's port driven by one Sender; each read's events go to ``on_events`` in arrival order."""

    def __init__(self, port: str, baud: int, profile: FirmwareProfile, on_events: Callable[[list[Event]], None],
                 on_gone: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self.baud = baud
        self.sender = Sender(profile)
        self._on_events = on_events
        self._on_gone = on_gone
        self._clock = clock
        self._serial: serial.SerialBase | None = None
        self._fd: int | None = None
        self._write_buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader_thread: threading.Thread | None = None
        self._closing = False
        self.bytes_read = 0

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._serial = await asyncio.to_thread(open_port, self.port, self.baud)
        try:
            fd = self._serial.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException):
            fd = None
        if fd is not None:
            os.set_blocking(fd, False)
            self._fd = fd
            self._loop.add_reader(fd, self._on_readable)
        else:
            self._reader_thread = threading.Thread(target=self._read_in_thread, name=f"serial {self.port}", daemon=True)
            self._reader_thread.start()

    def reset_input(self) -> None:
        """Drop whatever the firmware printed before we started listening."""
        if self._serial is not None:
            try:
                self._serial.reset_input_buffer()
            except (serial.SerialException, OSError):
                pass

    def replace_sender(self, profile: FirmwareProfile) -> Sender:
        self.sender = Sender(profile)
        return self.sender

    async def close(self) -> None:
        self._closing = True
        self._detach()
        port, self._serial = self._serial, None
        if port is not None:
            await asyncio.to_thread(port.close)
        if self._reader_thread is not None:
            await asyncio.to_thread(self._reader_thread.join, 1.0)
            self._reader_thread = None

    def _detach(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None

    # -- moving bytes --------------------------------------------------------------------------

    def pump(self) -> None:
        """Write what the sender's window allows and re-arm its timer; call after submitting."""
        if self._serial is None:
            return
        data = self.sender.data_to_send(self._clock())
        if data:
            self._write(data)
        self._arm_timer()

    def _write(self, data: bytes) -> None:
        if self._write_buffer or self._fd is None:
            self._write_buffer += data
            if self._fd is None:
                self._flush_without_fd()
            return
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._gone(f"write failed: {exc}")
            return
        if written < len(data):
            self._write_buffer += data[written:]
            assert self._loop is not None
            self._loop.add_writer(self._fd, self._on_writable)

    def _on_writable(self) -> None:
        assert self._fd is not None and self._loop is not None
        try:
            written = os.write(self._fd, self._write_buffer)
        except BlockingIOError:
            return
        except OSError as exc:
            self._gone(f"write failed: {exc}")
            return
        del self._write_buffer[:written]
        if not self._write_buffer:
            self._loop.remove_writer(self._fd)

    def _flush_without_fd(self) -> None:
        data, self._write_buffer = bytes(self._write_buffer), bytearray()
        try:
            assert self._serial is not None
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            self._gone(f"write failed: {exc}")

    def _on_readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._gone(f"read failed: {exc}")
            return
        if not data:
            self._gone("the port closed")
            return
        self._receive(data)

    def _read_in_thread(self) -> None:
        port = self._serial
        assert port is not None and self._loop is not None
        port.timeout = 0.05
        while not self._closing:
            try:
                data = port.read(4096)
            except (serial.SerialException, OSError, TypeError) as exc:
                if not self._closing:
                    self._loop.call_soon_threadsafe(self._gone, f"read failed: {exc}")
                return
            if data:
                self._loop.call_soon_threadsafe(self._receive, data)

    def _receive(self, data: bytes) -> None:
        self.bytes_read += len(data)
        events = self.sender.receive_data(data, self._clock())
        if events:
            self._on_events(events)
        self.pump()

    def _arm_timer(self) -> None:
        """One timer for the sender's next deadline; left alone when the deadline only moved later."""
        deadline = self.sender.next_deadline()
        if deadline is None or self._loop is None:
            return
        if self._timer is not None:
            if self._timer_due <= deadline:
                return  # fires early, finds nothing due, re-arms
            self._timer.cancel()
        self._timer_due = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - self._clock()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._clock()
        deadline = self.sender.next_deadline()
        if deadline is not None and deadline > now:
            self._arm_timer()
            return
        events = self.sender.tick(now)
        if events:
            self._on_events(events)
        self.pump()

    def _gone(self, reason: str) -> None:
        if self._serial is None or self._closing:
            return
        log.warning("%s: %s", self.port, reason)
        self._detach()
        port, self._serial = self._serial, None
        try:
            port.close()
        except (serial.SerialException, OSError):
            pass
        self._on_gone(reason)
