"""A simulated Marlin printer on a real pseudo-terminal, driven by a background thread.

The host opens ``printer.path`` with pyserial exactly as it would open /dev/ttyUSB0.  One
thread moves bytes between the pty master, the wire model and the firmware model, sleeping in
``select`` until the next thing due (a line arriving, a reply to deliver, a move finishing), so
250000 baud with real timing costs a few percent of a core.

Replies reach the host as a USB serial adapter or a native-USB board hands them over: each reply
line in a write of its own, at the moment its last byte arrived (``Delivery.LINES``). Replies
spaced milliseconds apart thus wake the host once each, as on real hardware; a simulator that
wrote whatever had arrived since it last woke would hand a host several replies per read and make
it look cheaper than it is. ``Delivery.BYTES`` keeps that byte-stream behaviour for comparison.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import selectors
import threading
import time
import tty
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TypeVar

from farmctl.profiles import FirmwareProfile, get_profile
from farmctl.sim.firmware import MarlinFirmware
from farmctl.sim.physics import Physics
from farmctl.sim.records import Executed, Stats
from farmctl.sim.sdcard import SdCard
from farmctl.sim.wire import LineFaults, Wire

log = logging.getLogger(__name__)
T = TypeVar("T")
_EOL = b"\n\r"
_MAX_BACKLOG = 1 << 20


@dataclass(frozen=True, slots=True)
class Faults:
    """Fault injection: per-byte rates each way, and one-shot events after N executed commands."""

    rx_corrupt: float = 0.0   # host -> printer
    rx_drop: float = 0.0
    tx_corrupt: float = 0.0   # printer -> host
    tx_drop: float = 0.0
    reset_after_commands: int | None = None
    unplug_after_commands: int | None = None
    seed: int = 0


class Delivery(Enum):
    """How reply bytes are written to the pty."""

    LINES = "lines"  # each reply line by itself once it has arrived whole, as USB adapters deliver them
    BYTES = "bytes"  # whatever bytes arrived since the last wakeup, in one write


class _Pty:
    """One pseudo-terminal; the slave stays open here so it keeps its raw settings."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class SimulatedPrinter:
    """A fake Marlin printer; use as a context manager or call ``start()`` and ``stop()``.

    ``sd`` is the card slot (None: no SDSUPPORT). ``baud=None`` uses the profile's baud rate with real wire timing; ``full_speed=True`` (or
    ``baud=0``) delivers bytes instantly, for correctness tests.  ``time_scale`` shrinks the
    machine's own durations (moves, homing, heating, keepalive); 0 makes them instant.
    """

    def __init__(self, profile: FirmwareProfile | str = "marlin2", *, baud: int | None = None,
                 full_speed: bool = False, latency: float = 0.002, time_scale: float = 1.0,
                 caps: Mapping[str, bool] | None = None, faults: Faults = Faults(),
                 link: Path | str | None = None, physics: Physics | None = None, sd: SdCard | None = None,
                 delivery: Delivery = Delivery.LINES) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.baud = 0 if full_speed else (self.profile.baud if baud is None else baud)
        self.latency = latency
        self.delivery = delivery
        self.faults = faults
        self.link = Path(link) if link is not None else None
        self.firmware = MarlinFirmware(self.profile, caps, time_scale, physics, sd)
        self.firmware.trip_after = self._next_trip()
        self.wire = self._new_wire()
        self._lock = threading.RLock()
        self._tasks: list[tuple[Callable[[], object], list[object], threading.Event]] = []
        self._pty: _Pty | None = None
        self._backlog = bytearray()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._frozen = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._error: BaseException | None = None

    def _new_wire(self) -> Wire:
        f = self.faults
        return Wire(self.baud, self.latency, LineFaults(f.rx_corrupt, f.rx_drop), LineFaults(f.tx_corrupt, f.tx_drop), f.seed)

    def _next_trip(self) -> int | None:
        counts = [n for n in (self.faults.reset_after_commands, self.faults.unplug_after_commands) if n is not None]
        return min(counts) if counts else None

    # -- life cycle ------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The pty slave to open with pyserial (changes on ``replug``)."""
        if self._pty is None:
            raise RuntimeError("simulated printer is not plugged in")
        return self._pty.path

    @property
    def port(self) -> str:
        """The name a host should keep using across replugs: the link if there is one."""
        return str(self.link) if self.link is not None else self.path

    def start(self) -> SimulatedPrinter:
        self._plug()
        self.firmware.boot(time.monotonic())
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"sim {self.profile.name}", daemon=True)
        self._thread.start()
        self.settle()  # the power-on banner is out before anyone opens the port, as on a real board
        return self

    def settle(self, timeout: float = 2.0) -> bool:
        """Wait until every reply printed so far has been written to the pty."""
        def idle(printer: SimulatedPrinter) -> bool:
            with printer._lock:
                return not (printer.firmware._out or printer._backlog or printer.wire.tx.next_arrival() is not None)
        return self.wait_for(idle, timeout)

    def stop(self) -> None:
        if self._wake_r < 0:
            return
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._unplug()
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._error is not None:
            raise RuntimeError("simulated printer thread failed") from self._error

    def __enter__(self) -> SimulatedPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _plug(self) -> None:
        self._pty = _Pty()
        self._selector.register(self._pty.master, selectors.EVENT_READ, "pty")
        if self.link is not None:
            temporary = self.link.with_name(self.link.name + ".new")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(self._pty.path)
            os.replace(temporary, self.link)

    def _unplug(self) -> None:
        if self._pty is None:
            return
        try:
            self._selector.unregister(self._pty.master)
        except (KeyError, ValueError):
            pass  # frozen: already out of the selector
        self._frozen = False
        self._pty.close()
        self._pty = None
        self._backlog.clear()
        self.wire.rx.clear()
        self.wire.tx.clear()
        if self.link is not None:
            self.link.unlink(missing_ok=True)

    # -- controls, safe from any thread ----------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the simulator thread (or here if it is not running) and return its result."""
        if self._thread is None or threading.current_thread() is self._thread:
            with self._lock:
                return fn()
        done = threading.Event()
        result: list[object] = []
        with self._lock:
            self._tasks.append((fn, result, done))
        self._wake()
        if not done.wait(timeout=10):
            raise TimeoutError("simulated printer thread did not answer")
        return result[0]  # type: ignore[return-value]

    def reset(self) -> None:
        """Reset the firmware now: ``start`` again, line numbers back to 0, queues lost."""
        self._call(lambda: self.firmware.reset(time.monotonic()))

    def unplug(self) -> None:
        """Pull the cable: the pty closes, so the host's reads and writes fail."""
        self._call(self._unplug)

    def replug(self, reset: bool = True) -> str:
        """Plug back in on a new pty (the link follows); a UART board resets when the port opens."""
        def plug() -> str:
            self._unplug()
            self._plug()
            if reset:
                self.firmware.reset(time.monotonic())
            return self.path
        path = self._call(plug)
        self.settle()
        return path

    def freeze(self) -> None:
        """Hang, as a crashed board whose USB stays up: nothing is read or answered, the port stays open."""
        def freeze() -> None:
            if not self._frozen and self._pty is not None:
                self._selector.unregister(self._pty.master)
            self._frozen = True
        self._call(freeze)

    def thaw(self) -> None:
        """Come back from ``freeze``: what the host sent meanwhile is read now (the OS kept it)."""
        def thaw() -> None:
            if self._frozen and self._pty is not None:
                self._selector.register(self._pty.master, selectors.EVENT_READ, "pty")
            self._frozen = False
        self._call(thaw)

    def action(self, name: str, args: str = "") -> None:
        """Print ``//action:<name> <args>`` (pause, resume, cancel, prompt_begin, ...)."""
        self._call(lambda: self.firmware.action(name, args, time.monotonic()))

    def sd_abort(self) -> None:
        """"Stop print" on the printer's own screen during an SD print."""
        self._call(lambda: self.firmware.abort_sd_print(time.monotonic()))

    def sd_take_out(self) -> None:
        """Pull the card from its slot: SD commands answer "No SD card" until one is put back and mounted (M21)."""
        def take_out() -> None:
            card = self.firmware.sd
            if card is not None:
                card.close()
                card.inserted = card.mounted = False
        self._call(take_out)

    def sd_put_back(self) -> None:
        """Put the card back; like a printer without card detection, it is mounted by the next M21."""
        def put_back() -> None:
            if self.firmware.sd is not None:
                self.firmware.sd.inserted = True
        self._call(put_back)

    def sd_files(self) -> dict[str, bytes]:
        """What is on the card now, by long name."""
        with self._lock:
            card = self.firmware.sd
            return {} if card is None else {f.long_name: bytes(f.data) for f in card.files.values()}

    def filament_runout(self, tool: int = 0) -> None:
        """Marlin's runout announcement: ``filament_runout T0`` then ``pause filament_runout 0``."""
        self._call(lambda: self._runout(tool))

    def _runout(self, tool: int) -> None:
        now = time.monotonic()
        self.firmware.action("filament_runout", f"T{tool}", now)
        self.firmware.action("pause", f"filament_runout {tool}", now)

    def prompt(self, message: str, buttons: tuple[str, ...] = ("Continue",)) -> None:
        """A host prompt (PROMPT_SUPPORT); the host answers with ``M876 S<index>``."""
        def show() -> None:
            now = time.monotonic()
            self.firmware.action("prompt_end", "", now)
            self.firmware.action("prompt_begin", message, now)
            for label in buttons:
                self.firmware.action("prompt_button", label, now)
            self.firmware.action("prompt_show", "", now)
        self._call(show)

    @property
    def executed(self) -> list[Executed]:
        with self._lock:
            return list(self.firmware.executed)

    @property
    def stats(self) -> Stats:
        with self._lock:
            return replace(self.firmware.snapshot(), wire_corrupted=self.wire.corrupted, wire_dropped=self.wire.dropped)

    @property
    def prompt_responses(self) -> list[int]:
        with self._lock:
            return list(self.firmware.prompt_responses)

    def inspect(self, fn: Callable[[MarlinFirmware], T]) -> T:
        """Read firmware state under the lock, e.g. ``printer.inspect(lambda fw: fw.hotend.target)``."""
        with self._lock:
            return fn(self.firmware)

    def wait_for(self, predicate: Callable[[SimulatedPrinter], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate(self)`` until it holds or ``timeout`` passes; returns whether it held."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.005)
        return predicate(self)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                with self._lock:
                    self._run_tasks()
                    self._process(time.monotonic())
                ready = self._wait(self._timeout(time.monotonic()))
                with self._lock:
                    now = time.monotonic()
                    for key, _ in ready:
                        if key.data == "wake":
                            self._drain_wake()
                        elif key.data == "pty":
                            self._read_host(now)
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            log.exception("simulated printer failed")
            self._error = exc

    def _wait(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        """``select`` to the microsecond: epoll rounds up to whole milliseconds, which would hold
        back a reply due in 0.2 ms until the next one is due too, and hand both over in one write."""
        if timeout is None:
            return self._selector.select(None)
        coarse = math.floor(timeout * 1000) / 1000
        ready = self._selector.select(coarse)
        rest = timeout - coarse
        if ready or rest <= 0:
            return ready
        time.sleep(rest)
        return self._selector.select(0)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _run_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for fn, result, done in tasks:
            result.append(fn())
            done.set()

    def _read_host(self, now: float) -> None:
        if self._pty is None:
            return
        try:
            data = os.read(self._pty.master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            return
        self.wire.rx.send(data, now)

    def _timeout(self, now: float) -> float | None:
        if self._frozen:
            return None  # until a control wakes the thread
        with self._lock:
            tx = self.wire.tx
            delivery = tx.next_whole_arrival() if self.delivery is Delivery.LINES else tx.next_arrival()
            candidates = [self.firmware.next_wakeup(), delivery,
                          self.wire.rx.next_arrival_of(_EOL) or self.wire.rx.last_arrival()]
            if self._backlog:
                candidates.append(now + 0.005)
        due = [t for t in candidates if t is not None]
        return max(0.0, min(due) - now) if due else None

    def _process(self, now: float) -> None:
        if self._frozen:
            return
        firmware = self.firmware
        for segment in self.wire.rx.take(now):
            firmware.receive(segment.data, segment.first, segment.byte_time)
            self._handle_trip()
        firmware.advance(now)
        self._handle_trip()
        for at, data in firmware.take_output():
            if self._pty is not None:
                self.wire.tx.send(data, at)
        self._write_host(now)

    def _handle_trip(self) -> None:
        firmware = self.firmware
        if not firmware.tripped:
            return
        count = firmware.stats.commands_executed
        faults = self.faults
        firmware.untrip()
        if faults.unplug_after_commands is not None and count >= faults.unplug_after_commands:
            self.faults = replace(faults, unplug_after_commands=None)
            self._unplug()
        if faults.reset_after_commands is not None and count >= faults.reset_after_commands:
            self.faults = replace(self.faults, reset_after_commands=None)
            firmware.reset(firmware.now)
        firmware.trip_after = self._next_trip()

    def _write_host(self, now: float) -> None:
        if self.delivery is Delivery.LINES:
            writes = self.wire.tx.take_whole(now)
        else:
            writes = [b"".join(segment.data for segment in self.wire.tx.take(now))]
        if self._pty is None:
            self._backlog.clear()
            return
        if self._backlog:
            del self._backlog[:self._write(bytes(self._backlog))]
        for data in writes:
            if self._backlog or not data:  # the host is not reading: the rest queues behind
                self._backlog += data
                continue
            self._backlog += data[self._write(data):]
        if len(self._backlog) > _MAX_BACKLOG:  # nobody reads: the OS would drop it too
            self._backlog.clear()

    def _write(self, data: bytes) -> int:
        """Write to the pty; how many bytes it took."""
        assert self._pty is not None
        try:
            return os.write(self._pty.master, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            return len(data)
