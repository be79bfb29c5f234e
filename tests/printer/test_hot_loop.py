"""The hot loop's contract (farmctl/hotloop.py), for the C loop and its pure-Python fallback alike,
over a real pseudo-terminal opened through pyserial: this side plays the firmware."""

import os
import select
import threading
import time

import pytest

from farmctl import hotloop
from farmctl.hotloop import Stop
from farmctl.link import open_port
from farmctl.protocol.sender import Burst

RUNNERS = {"C": hotloop.COMPILED, "Python": hotloop.run_python}


@pytest.fixture(params=list(RUNNERS))
def run(request):
    runner = RUNNERS[request.param]
    if runner is None:
        pytest.skip("farmctl._hotloop was not built (no C compiler or Python headers at install)")
    return runner


@pytest.fixture
def port():
    """(the host's non-blocking port fd, the firmware's end, a wake pipe's (read, write))."""
    firmware, host = os.openpty()
    serial_port = open_port(os.ttyname(host), 250000)
    fd = serial_port.fileno()
    os.set_blocking(fd, False)
    wake_r, wake_w = os.pipe()
    yield fd, firmware, (wake_r, wake_w)
    serial_port.close()
    for unused in (host, wake_r, wake_w):
        os.close(unused)
    try:
        os.close(firmware)
    except OSError:
        pass  # a test closed it


def lines(*texts: str) -> tuple[bytes, tuple[int, ...]]:
    data, ends, end = b"", [], 0
    for text in texts:
        data += text.encode() + b"\n"
        end += len(text) + 1
        ends.append(end)
    return data, tuple(ends)


def burst(texts, in_flight=(), slots=4, max_bytes=127, quiet=None, quiet_after_ok=5.0) -> Burst:
    data, ends = lines(*texts)
    return Burst(data, ends, tuple(in_flight), slots, max_bytes, quiet, quiet_after_ok)


def read_firmware(fd: int, expect: int, timeout: float = 2.0) -> bytes:
    """What the host wrote, once ``expect`` bytes came (or the timeout passed)."""
    got = b""
    end = time.monotonic() + timeout
    while len(got) < expect and (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            got += os.read(fd, 4096)
    return got


def nothing_more(fd: int, wait: float = 0.05) -> bool:
    return not select.select([fd], [], [], wait)[0]


THREE = ["N1 G1 X1*1", "N2 G1 X2*2", "N3 G1 X3*3"]


class InThread:
    """A burst running on a thread of its own, as on a link's, while the test plays the firmware."""

    def __init__(self, run, *args) -> None:
        self._result: list[hotloop.Outcome] = []
        self._thread = threading.Thread(target=lambda: self._result.append(run(*args)))
        self._thread.start()

    def running(self) -> bool:
        return self._thread.is_alive()

    def outcome(self) -> hotloop.Outcome:
        self._thread.join(2)
        return self._result[0]


def test_lines_go_out_as_oks_free_the_window_until_every_one_is_out(run, port):
    fd, firmware, (wake_r, _) = port
    texts = [f"N{n} G1 X{n}*1" for n in range(1, 7)]
    burst_run = InThread(run, fd, wake_r, burst(texts, slots=2))
    first_two = "".join(t + "\n" for t in texts[:2]).encode()
    assert read_firmware(firmware, len(first_two)) == first_two
    assert nothing_more(firmware), "more than the window's two lines went out"
    for text in texts[2:]:
        os.write(firmware, b"ok\n")
        assert read_firmware(firmware, len(text) + 1) == text.encode() + b"\n"
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.sent, outcome.oks, outcome.rest) == (Stop.ALL_SENT, 6, 4, b"")
    assert outcome.oks_before == (0, 0, 1, 2, 3, 4)


def test_bytes_in_flight_count_against_the_window(run, port):
    fd, firmware, (wake_r, _) = port
    big = "N1 G1 X" + "1" * 80  # 88 bytes: with 50 in flight, over a 127-byte window
    burst_run = InThread(run, fd, wake_r, burst([big], in_flight=(50,), slots=4))
    assert nothing_more(firmware, 0.1)
    os.write(firmware, b"ok\r\n")  # the oldest line's ok, with the CR some boards send
    assert read_firmware(firmware, len(big) + 1) == big.encode() + b"\n"
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.sent, outcome.oks) == (Stop.ALL_SENT, 1, 1)


def test_a_reply_other_than_ok_ends_the_burst_and_comes_back_unread(run, port):
    fd, firmware, (wake_r, _) = port
    burst_run = InThread(run, fd, wake_r, burst(THREE, slots=2))
    read_firmware(firmware, 22)
    os.write(firmware, b"ok\nResend: 2\nok\n")
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.oks, outcome.rest) == (Stop.OTHER, 1, b"Resend: 2\nok\n")
    assert outcome.sent == 2, "a line went out after a resend request was read"
    assert nothing_more(firmware)


def test_an_ok_split_across_reads_is_taken_and_a_longer_line_is_not(run, port):
    fd, firmware, (wake_r, _) = port
    burst_run = InThread(run, fd, wake_r, burst(THREE, slots=1))
    read_firmware(firmware, 11)
    os.write(firmware, b"o")
    time.sleep(0.02)
    os.write(firmware, b"k\n")
    assert read_firmware(firmware, 11) == b"N2 G1 X2*2\n"
    os.write(firmware, b"ok T:20")  # a temperature report, its end still on the wire
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.oks, outcome.rest) == (Stop.OTHER, 1, b"ok T:20")


def test_an_ok_with_nothing_in_flight_is_left_to_the_general_path(run, port):
    fd, firmware, (wake_r, _) = port
    burst_run = InThread(run, fd, wake_r, burst(["N2 G1 X2*2", "N3 G1 X3*3"], in_flight=(11,), slots=1))
    os.write(firmware, b"ok\nok\n")  # read at once: the second came before the next line was sent
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.oks, outcome.rest) == (Stop.OTHER, 1, b"ok\n")


def test_silence_ends_the_burst_when_the_senders_timers_are_due(run, port):
    fd, firmware, (wake_r, _) = port
    started = time.monotonic()
    outcome = run(fd, wake_r, burst(["N1 G1 X1*1", "N2 G1 X2*2"], slots=1, quiet=0.05))
    assert outcome.stop is Stop.QUIET and outcome.sent == 1
    assert 0.05 <= time.monotonic() - started < 1.0


def test_each_ok_moves_the_quiet_deadline_on(run, port):
    fd, firmware, (wake_r, _) = port
    burst_run = InThread(run, fd, wake_r, burst(["N1 G1 X1*1"] * 3, slots=1, quiet=0.15, quiet_after_ok=0.3))
    time.sleep(0.1)
    os.write(firmware, b"ok\n")
    time.sleep(0.1)  # past the first deadline, before the one the ok set
    assert burst_run.running()
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.oks) == (Stop.QUIET, 1) and outcome.since_last_ok >= 0.29


def test_a_wake_from_the_event_loop_ends_the_burst(run, port):
    fd, firmware, (wake_r, wake_w) = port
    burst_run = InThread(run, fd, wake_r, burst(["N1 G1 X1*1", "N2 G1 X2*2"], slots=1))
    time.sleep(0.05)
    assert burst_run.running()
    os.write(wake_w, b"\0")
    outcome = burst_run.outcome()
    assert (outcome.stop, outcome.sent) == (Stop.WOKEN, 1)
    assert os.read(wake_r, 8) == b"\0", "the loop left the wake byte for the link to drain"


def test_a_port_that_takes_no_more_stops_the_burst_mid_line(run, port):
    fd, firmware, (wake_r, _) = port
    texts = [f"N{n} G1 X" + "9" * 80 for n in range(400)]  # 35 KB: more than a pty holds unread
    outcome = run(fd, wake_r, burst(texts, slots=1000, max_bytes=10**6))
    assert outcome.stop is Stop.BLOCKED and 0 < outcome.sent < len(texts)
    assert 0 < outcome.unwritten <= len(texts[outcome.sent - 1]) + 1
    wrote = sum(len(t) + 1 for t in texts[:outcome.sent]) - outcome.unwritten
    got = b""
    while select.select([firmware], [], [], 0.1)[0]:
        got += os.read(firmware, 65536)
    assert got == "".join(t + "\n" for t in texts).encode()[:wrote]


def test_a_closed_port_ends_the_burst_as_gone(run, port):
    fd, firmware, (wake_r, _) = port
    os.close(firmware)
    outcome = run(fd, wake_r, burst(["N1 G1 X1*1", "N2 G1 X2*2"], slots=1, quiet=2.0))
    assert outcome.stop is Stop.GONE and outcome.error


@pytest.fixture
def two_ports():
    """Two host ports (non-blocking fds through pyserial), their firmware ends, and a wake pipe."""
    opened = []
    for _ in range(2):
        firmware, host = os.openpty()
        serial_port = open_port(os.ttyname(host), 250000)
        os.set_blocking(serial_port.fileno(), False)
        opened.append((serial_port, host, firmware))
    wake_r, wake_w = os.pipe()
    yield [(s.fileno(), firmware) for s, _, firmware in opened], (wake_r, wake_w)
    for serial_port, host, firmware in opened:
        serial_port.close()
        os.close(host)
        os.close(firmware)
    os.close(wake_r)
    os.close(wake_w)


@pytest.fixture
def streams():
    if hotloop.Streams is None:
        pytest.skip("farmctl._hotloop was not built (no C compiler or Python headers at install)")
    return hotloop.Streams()


def test_the_c_loop_runs_many_ports_and_returns_only_those_that_stopped(streams, two_ports):
    (a, a_firmware), (b, b_firmware) = two_ports[0]
    wake_r, _ = two_ports[1]
    hotloop.start(streams, a, burst(THREE, slots=1))
    hotloop.start(streams, b, burst(THREE, slots=1))
    woken, ready, stopped = streams.run(wake_r, (), 0.05)  # each sends its first line, then silence
    assert (woken, ready, stopped) == (False, [], []) and streams.running() == 2
    assert read_firmware(a_firmware, 11) == b"N1 G1 X1*1\n" and read_firmware(b_firmware, 11) == b"N1 G1 X1*1\n"
    os.write(a_firmware, b"ok\n")
    os.write(b_firmware, b"busy: processing\n")  # not an ok: b's burst stops, a's goes on
    woken, ready, stopped = streams.run(wake_r, (), 1.0)
    assert [hotloop.outcome_of(raw)[:5] for raw in stopped] == [(Stop.OTHER, 1, 0, 0, pytest.approx(0, abs=2))]
    assert stopped[0][0] == b and hotloop.outcome_of(stopped[0]).rest == b"busy: processing\n"
    assert streams.running() == 1 and read_firmware(a_firmware, 11) == b"N2 G1 X2*2\n"
    a_outcome = hotloop.outcome_of(streams.stop(a))
    assert (a_outcome.stop, a_outcome.sent, a_outcome.oks) == (Stop.WOKEN, 2, 1) and streams.running() == 0
    assert streams.stop(a) is None


def test_the_c_loop_returns_when_a_watched_port_is_ready(streams, two_ports):
    (a, _), (b, b_firmware) = two_ports[0]
    wake_r, _ = two_ports[1]
    hotloop.start(streams, a, burst(THREE, slots=1))
    os.write(b_firmware, b"echo: hello\n")
    woken, ready, stopped = streams.run(wake_r, ((b, select.POLLIN),), -1.0)
    assert (woken, ready, stopped) == (False, [(b, select.POLLIN)], [])
    assert streams.running() == 1, "a's burst goes on where it stood"
