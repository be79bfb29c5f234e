"""The simulated printer over its real pseudo-terminal, driven with pyserial like a host would."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import pytest
import serial

from farmctl.protocol.gcode import encode
from farmctl.sim import Delivery, Faults, SimulatedPrinter
from farmctl.sim.process import SimulatorProcess


def open_port(path: str, timeout: float = 5.0) -> serial.Serial:
    return serial.Serial(path, baudrate=250000, timeout=timeout)


def read_until(port: serial.Serial, wanted: bytes, limit: int = 200) -> list[bytes]:
    """Lines up to and including the first that starts with ``wanted``."""
    lines = []
    for _ in range(limit):
        line = port.readline()
        assert line, f"timed out waiting for {wanted!r}; got {lines!r}"
        lines.append(line.rstrip(b"\r\n"))
        if line.startswith(wanted):
            return lines
    raise AssertionError(f"no {wanted!r} in {lines!r}")


def stream(port: serial.Serial, lines: list[bytes], window_lines: int = 4, window_bytes: int = 127) -> None:
    """A host that keeps at most ``window_lines`` lines and ``window_bytes`` bytes unacknowledged."""
    in_flight: deque[int] = deque()
    sent = acked = 0
    while acked < len(lines):
        while (sent < len(lines) and len(in_flight) < window_lines
               and sum(in_flight) + len(lines[sent]) <= window_bytes):
            port.write(lines[sent])
            in_flight.append(len(lines[sent]))
            sent += 1
        reply = port.readline()
        assert reply, f"no reply after {acked} oks"
        assert not reply.startswith((b"Error", b"Resend")), reply
        if reply.startswith(b"ok"):
            in_flight.popleft()
            acked += 1


def job(count: int, start: int = 1) -> list[bytes]:
    return [encode(n, f"G1 X{n % 200} Y{(n * 7) % 200} E{n * 0.01:.2f}") for n in range(start, start + count)]


@pytest.fixture
def printer() -> SimulatedPrinter:
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0.0) as sim:
        yield sim


def test_ping_pong_job_runs_each_line_once_in_order(printer: SimulatedPrinter) -> None:
    with open_port(printer.path) as port:
        for line in job(100):
            port.write(line)
            assert port.readline() == b"ok\n"
    executed = printer.executed
    assert [e.line_number for e in executed] == list(range(1, 101))
    assert all(e.numbered for e in executed)
    assert printer.stats.errors == 0


def test_windowed_stream_never_loses_a_line(printer: SimulatedPrinter) -> None:
    with open_port(printer.path) as port:
        stream(port, job(500))
    stats = printer.stats
    assert [e.line_number for e in printer.executed] == list(range(1, 501))
    assert stats.bytes_dropped == stats.bytes_flushed == stats.errors == 0


def test_reset_prints_the_banner_and_line_numbers_start_over(printer: SimulatedPrinter) -> None:
    with open_port(printer.path) as port:
        stream(port, job(3))
        printer.reset()
        assert read_until(port, b"Marlin")[:2] == [b"start", b"echo:External Reset"]
        port.write(encode(4, "G1 X1"))
        assert read_until(port, b"Resend")[-2:] == [b"Error:Line Number is not Last Line Number+1, Last Line: 0",
                                                    b"Resend: 1"]


def test_reset_after_n_commands_fault() -> None:
    with SimulatedPrinter(full_speed=True, time_scale=0.0, faults=Faults(reset_after_commands=5)) as sim, \
            open_port(sim.path) as port:
        for line in job(5):
            port.write(line)
            assert port.readline() == b"ok\n"
        assert read_until(port, b"start") == [b"start"]
        assert sim.stats.resets == 1


def test_unplug_makes_reads_fail_and_replug_moves_the_link(tmp_path: Path) -> None:
    link = tmp_path / "ttyPrinter"
    with SimulatedPrinter(full_speed=True, time_scale=0.0, link=link) as sim:
        first = sim.path
        assert link.resolve() == Path(first).resolve()
        port = open_port(str(link), timeout=2)
        sim.unplug()
        with pytest.raises(serial.SerialException):
            port.read(1)
        port.close()
        assert not link.exists()
        sim.replug()
        assert link.resolve() == Path(sim.path).resolve()
        with open_port(str(link)) as port:
            port.write(b"N0 M110 N0*125\n")  # the reset on replug printed its banner before we opened
            assert port.readline() == b"ok\n"


def test_unplug_after_n_commands_fault() -> None:
    with SimulatedPrinter(full_speed=True, time_scale=0.0, faults=Faults(unplug_after_commands=3)) as sim:
        port = open_port(sim.path, timeout=2)
        with pytest.raises(serial.SerialException):
            for line in job(10):
                port.write(line)
                port.readline()
        port.close()
        assert len(sim.executed) == 3


def test_host_actions_and_prompts_reach_the_host(printer: SimulatedPrinter) -> None:
    with open_port(printer.path) as port:
        printer.action("pause")
        printer.filament_runout()
        printer.prompt("Purge more?", ("Yes", "No"))
        assert read_until(port, b"//action:prompt_show") == [
            b"//action:pause", b"//action:filament_runout T0", b"//action:pause filament_runout 0",
            b"//action:prompt_end", b"//action:prompt_begin Purge more?", b"//action:prompt_button Yes",
            b"//action:prompt_button No", b"//action:prompt_show"]
        port.write(b"M876 S1\n")
        assert port.readline() == b"ok\n"
    assert printer.prompt_responses == [1]


def test_busy_keepalive_reaches_the_host_during_homing() -> None:
    with SimulatedPrinter(full_speed=True, time_scale=0.05) as sim, open_port(sim.path) as port:
        port.write(encode(1, "G28"))  # 8 s * 0.05 = 0.4 s, keepalive every 0.1 s
        lines = read_until(port, b"ok")
    assert lines[-1] == b"ok" and lines.count(b"echo:busy: processing") >= 2


def test_reply_takes_the_wire_time_at_a_real_baud_rate() -> None:
    line = encode(1, "G1 X100 Y100 Z1 E1 F3000")
    with SimulatedPrinter(baud=9600, latency=0.002, time_scale=0.0) as sim, open_port(sim.path) as port:
        start = time.monotonic()
        port.write(line)
        assert port.readline() == b"ok\n"
        elapsed = time.monotonic() - start
    expected = (len(line) + 3) * 10 / 9600 + 0.002  # line out, "ok\n" back, bridge latency
    assert expected * 0.9 < elapsed < expected + 0.5  # never faster than the wire; slack for a busy machine


def reads_of_replies(delivery: Delivery) -> list[bytes]:
    """What each read returns while four lines sent at once are answered ~35 ms apart (9600 baud)."""
    lines = job(4)
    reads: list[bytes] = []
    with SimulatedPrinter(baud=9600, latency=0.002, time_scale=0.0, delivery=delivery) as sim, \
            open_port(sim.path, timeout=0.0) as port:
        port.write(b"".join(lines))
        deadline = time.monotonic() + 5
        while b"".join(reads).count(b"ok\n") < len(lines) and time.monotonic() < deadline:
            if data := port.read(4096):
                reads.append(data)
            time.sleep(0.0002)
    return reads


def test_each_reply_line_reaches_the_host_in_a_write_of_its_own() -> None:
    reads = reads_of_replies(Delivery.LINES)
    assert reads == [b"ok\n"] * 4  # a USB adapter hands over replies spaced ms apart one by one, never in parts


def test_byte_delivery_hands_over_bytes_as_they_arrive() -> None:
    reads = reads_of_replies(Delivery.BYTES)
    assert b"".join(reads) == b"ok\n" * 4
    assert len(reads) > 4  # each ok takes 3 ms on the wire: the host sees it in parts


def test_stream_at_250000_baud_in_a_child_process_keeps_wire_time() -> None:
    lines = job(700)
    wire_time = sum(len(line) for line in lines) * 10 / 250000
    with SimulatorProcess("marlin2", baud=250000, time_scale=0.0, record_executed=True) as sim:
        with open_port(sim.path, timeout=5) as port:
            start = time.monotonic()
            stream(port, lines)
            elapsed = time.monotonic() - start
        report = sim.stop()
    assert wire_time <= elapsed < wire_time * 3 + 0.5
    assert report.executed is not None and [e.line_number for e in report.executed] == list(range(1, 701))
    assert report.stats.bytes_received == sum(len(line) for line in lines)
    assert report.cpu_seconds < elapsed * 0.8 + 0.3  # the simulator is not the bottleneck


def test_a_resending_host_gets_every_line_run_once_through_a_noisy_wire() -> None:
    faults = Faults(rx_corrupt=0.003, tx_corrupt=0.003, seed=11)
    lines = job(150)
    with SimulatedPrinter(full_speed=True, latency=0.0, time_scale=0.0, faults=faults) as sim, \
            open_port(sim.path, timeout=0.1) as port:
        number = 1
        deadline = time.monotonic() + 20
        while sim.inspect(lambda fw: fw.last_n) < len(lines) and time.monotonic() < deadline:
            port.write(lines[number - 1])
            resend = None
            while reply := port.readline():  # a timeout (lost or garbled reply) sends the line again
                if reply.startswith(b"Resend: ") and reply[8:].strip().isdigit():
                    resend = min(max(1, int(reply[8:])), len(lines))
                elif reply.startswith(b"ok"):
                    # the ok after a Resend acknowledges the rejected line, not a new one
                    number = resend if resend is not None else min(number + 1, len(lines))
                    break
        stats = sim.stats
    numbered = [e.line_number for e in sim.executed if e.numbered]
    assert numbered == list(range(1, len(lines) + 1))  # each once, in order, despite the noise
    assert stats.wire_corrupted > 0 and stats.errors > 0

