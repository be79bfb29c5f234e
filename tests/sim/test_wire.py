"""The wire model: 8N1 timing, reply latency and reproducible faults."""

from __future__ import annotations

import pytest

from farmctl.sim.wire import Channel, LineFaults, Wire


def arrivals(channel: Channel, until: float) -> list[tuple[float, int]]:
    return [(round(s.first + i * s.byte_time, 9), byte) for s in channel.take(until) for i, byte in enumerate(s.data)]


def test_bytes_arrive_one_byte_time_apart_at_the_baud_rate() -> None:
    channel = Channel(baud=1000)  # 10 ms a byte
    channel.send(b"abc", 1.0)
    assert channel.take(1.005) == []
    assert arrivals(channel, 1.025) == [(1.01, ord("a")), (1.02, ord("b"))]
    channel.send(b"d", 1.0)  # queued behind what is still on the line
    assert arrivals(channel, 2.0) == [(1.03, ord("c")), (1.04, ord("d"))]


def test_full_speed_is_instant_and_reply_latency_is_added() -> None:
    assert arrivals(Channel(baud=0), 0.0) == []
    channel = Channel(baud=0, latency=0.002)
    channel.send(b"ok\n", 5.0)
    assert channel.take(5.001) == []
    assert [s.data for s in channel.take(5.002)] == [b"ok\n"]


def test_next_end_of_line_arrival() -> None:
    channel = Channel(baud=10000)
    channel.send(b"G28\nM105\n", 0.0)
    assert channel.next_arrival_of(b"\n") == pytest.approx(0.004)
    channel.take(0.0045)
    assert channel.next_arrival_of(b"\n") == pytest.approx(0.009)


def test_faults_at_rate_zero_leave_bytes_alone() -> None:
    wire = Wire(baud=0, seed=3)
    data = bytes(range(256)) * 40
    wire.rx.send(data, 0.0)
    assert b"".join(s.data for s in wire.rx.take(1.0)) == data
    assert wire.corrupted == wire.dropped == 0


def test_seeded_faults_are_reproducible_whatever_the_chunking() -> None:
    data = b"N1 G1 X10 Y10*99\n" * 500

    def run(seed: int, chunk: int) -> bytes:
        wire = Wire(rx_faults=LineFaults(corrupt=0.01, drop=0.01), seed=seed)
        for start in range(0, len(data), chunk):
            wire.rx.send(data[start:start + chunk], 0.0)
        return b"".join(s.data for s in wire.rx.take(1.0))

    first = run(7, 1)
    assert first == run(7, 64) == run(7, len(data))
    assert first != data and first != run(8, 1)
    assert len(data) * 0.98 * 0.97 < len(first) < len(data)  # about 1 % dropped


def test_whole_blocks_are_taken_once_their_last_byte_arrived() -> None:
    channel = Channel(baud=1000, latency=0.002)  # 10 ms a byte
    channel.send(b"ok\n", 1.0)
    channel.send(b"ok\n", 1.0)  # queued behind the first
    assert channel.next_whole_arrival() == pytest.approx(1.032)
    assert channel.take_whole(1.031) == []
    assert channel.take_whole(1.032) == [b"ok\n"]
    assert channel.next_whole_arrival() == pytest.approx(1.062)
    assert channel.take_whole(2.0) == [b"ok\n"]
    assert channel.next_whole_arrival() is None
