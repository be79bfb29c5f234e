"""The sender hears the same thing however the port cuts the bytes: whole reads, one byte at a time,
or random fragments.

A real port returns whatever arrived by the time of the read: half a reply, three replies and a
bit, one byte. A session is recorded with the simulator's firmware and a noisy wire (no pty, time
passed in): every call to the sender and what it answered. It is replayed on a fresh sender with
each read cut into pieces at the same instant; every answer must be the same (the events of the
pieces together equal the events of the whole read, and everything it sends after is the same).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from hypothesis import event, given, settings, strategies as st

from farmctl.profiles import get_profile
from farmctl.protocol.sender import Sender
from farmctl.sim.firmware import MarlinFirmware
from farmctl.sim.wire import LineFaults, Wire

VIRTUAL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Call:
    """One call to the sender: ``kind`` is send, receive or tick; ``data`` what was fed; ``answer`` what came back."""

    kind: str
    now: float
    data: bytes
    answer: Any


def record(profile: str, commands: list[str], noise: tuple[float, float, float, float], seed: int) -> list[Call]:
    """A session of ``commands`` against the firmware model over a wire that damages bytes."""
    firmware = MarlinFirmware(get_profile(profile), None, 0.0)
    wire = Wire(0, 0.0005, LineFaults(noise[0], noise[1]), LineFaults(noise[2], noise[3]), seed)
    sender = Sender(get_profile(profile))
    calls: list[Call] = []
    now = 0.0
    firmware.boot(now)
    firmware.take_output()  # the power-on banner came before the host listened (the link drops it too)
    sender.start_session(now)
    for index, command in enumerate(commands):
        sender.submit(command, index)
    while now < VIRTUAL_SECONDS and not (sender.idle and sender.pending == 0 and now > 0):
        out = sender.data_to_send(now)
        calls.append(Call("send", now, b"", out))
        if out:
            wire.rx.send(out, now)
        for segment in wire.rx.take(now):
            firmware.receive(segment.data, segment.first, segment.byte_time)
        firmware.advance(now)
        for at, data in firmware.take_output():
            wire.tx.send(data, at)
        for segment in wire.tx.take(now):
            calls.append(Call("receive", now, segment.data, sender.receive_data(segment.data, now)))
        deadline = sender.next_deadline()
        if deadline is not None and deadline <= now:
            calls.append(Call("tick", now, b"", sender.tick(now)))
        if sender.halted:
            break
        due = [t for t in (deadline, firmware.next_wakeup(), wire.tx.next_arrival(), wire.rx.next_arrival())
               if t is not None and t > now]
        now = min(due) if due else now + 0.01
    return calls


def replay(profile: str, commands: list[str], calls: list[Call], cut: Any) -> None:
    """The same calls on a fresh sender, each read fed in the pieces ``cut(data)`` gives."""
    sender = Sender(get_profile(profile))
    sender.start_session(0.0)
    for index, command in enumerate(commands):
        sender.submit(command, index)
    for number, call in enumerate(calls):
        if call.kind == "send":
            answer: Any = sender.data_to_send(call.now)
        elif call.kind == "tick":
            answer = sender.tick(call.now)
        else:
            answer = []
            for piece in cut(call.data):
                answer += sender.receive_data(piece, call.now)
        assert answer == call.answer, f"call {number} ({call.kind} at {call.now:.4f}) of {len(calls)} differs"


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


noise = st.one_of(st.just(0.0), st.floats(min_value=0.0005, max_value=0.01))


@settings()  # the profile's count: 200 in the suite
@given(
    moves=st.integers(min_value=1, max_value=60),
    profile=st.sampled_from(["marlin2", "marlin2-advanced-ok", "marlin1", "prusa-mk3", "marlin2-usb"]),
    rx_corrupt=noise, rx_drop=noise, tx_corrupt=noise, tx_drop=noise,
    seed=st.integers(min_value=0, max_value=2**16),
    cuts=st.integers(min_value=0, max_value=2**32),
)
def test_a_session_fed_in_fragments_or_byte_by_byte_gives_the_same_events_as_whole_reads(
        moves, profile, rx_corrupt, rx_drop, tx_corrupt, tx_drop, seed, cuts):
    rnd = random.Random(seed)
    commands = ["G28", "M105"] + [f"G1 X{rnd.uniform(0, 200):.3f} Y{rnd.uniform(0, 200):.3f} F3000"
                                  for _ in range(moves)]
    calls = record(profile, commands, (rx_corrupt, rx_drop, tx_corrupt, tx_drop), seed)
    assert any(call.kind == "receive" for call in calls)
    answers = [type(e).__name__ for call in calls if call.kind != "send" for e in call.answer]
    event("resends" if "Resending" in answers else "no resend")  # --hypothesis-show-statistics
    pieces = random.Random(cuts)

    def fragments(data: bytes) -> list[bytes]:
        bounds = sorted(pieces.sample(range(1, len(data)), min(len(data) - 1, pieces.randint(0, 6)))) \
            if len(data) > 1 else []
        return [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)])]

    replay(profile, commands, calls, lambda data: [data])  # the record itself is repeatable
    replay(profile, commands, calls, one_byte_at_a_time)
    replay(profile, commands, calls, fragments)


def test_a_clean_session_records_every_ok_so_the_property_has_something_to_compare() -> None:
    commands = ["G28"] + [f"G1 X{i} Y{i} F3000" for i in range(20)]
    calls = record("marlin2", commands, (0.0, 0.0, 0.0, 0.0), 1)
    acknowledged = [event.tag for call in calls if call.kind == "receive" for event in call.answer
                    if getattr(event, "tag", None) is not None]
    assert acknowledged == list(range(len(commands)))
    assert sum(len(call.data) for call in calls if call.kind == "receive") > 3 * len(commands)
