"""The sender's share of the hot loop (``Sender.burst`` and ``burst_done``): a burst carries exactly
the bytes the general path would send, and booking it leaves the sender as the general path would."""

from hypothesis import given, settings, strategies as st

from farmctl.profiles import get_profile
from farmctl.protocol.events import Acknowledged
from farmctl.protocol.meatpack import MeatPack
from farmctl.protocol.mode import SenderMode
from farmctl.protocol.sender import TICKLE_QUIET, Sender

PROFILES = ["marlin2", "marlin1", "prusa-mk3", "marlin2-usb"]


def started(profile: str = "marlin2", ping_pong: bool = False) -> Sender:
    chosen = get_profile(profile)
    sender = Sender(chosen.with_ping_pong() if ping_pong else chosen)
    sender.start_session(0.0)
    sender.data_to_send(0.0)
    sender.receive_data(b"ok\n", 0.0)
    return sender


def commands(count: int) -> list[str]:
    return [f"G1 X{n % 200}.{n % 7} Y{n * 3 % 200} E{n * 0.0123:.4f}" for n in range(count)]


def acks(events) -> list[int]:
    return [e.line for e in events if isinstance(e, Acknowledged)]


@settings(max_examples=200, deadline=None)
@given(profile=st.sampled_from(PROFILES), ping_pong=st.booleans(), count=st.integers(1, 40),
       oks=st.integers(0, 60))
def test_a_booked_burst_leaves_the_sender_as_the_general_path_does(profile, ping_pong, count, oks):
    general, hot = started(profile, ping_pong), started(profile, ping_pong)
    for sender in (general, hot):
        for command in commands(count):
            sender.submit(command)
    assert general.data_to_send(0.0) == hot.data_to_send(0.0)
    burst = hot.burst(0.0)
    if burst is None:
        assert hot.pending == 0, "job lines wait in a steady stream, yet no burst"
        return
    assert burst.in_flight and len(burst.in_flight) == general.in_flight
    assert burst.quiet == TICKLE_QUIET

    # The general path, one ok at a time, for as long as something is in flight.
    sent_after, events, now, taken = b"", [], 0.0, 0
    while taken < oks and general.in_flight:
        now += 0.002
        events += general.receive_data(b"ok\n", now)
        sent_after += general.data_to_send(now)
        taken += 1
    assert burst.lines.startswith(sent_after), "the burst's lines are not what the general path sends next"
    sent = burst.ends.index(len(sent_after)) + 1 if sent_after else 0

    booked = hot.burst_done(sent, taken, now)
    assert acks(booked) == acks(events)
    assert hot.stats == general.stats
    assert (hot.in_flight, hot.pending, hot.mode, hot.idle) == (general.in_flight, general.pending, general.mode,
                                                                 general.idle)
    assert hot.next_deadline() == general.next_deadline()
    for sender in (general, hot):  # and both go on alike
        sender.submit("M400")
    if general.in_flight:
        assert acks(hot.receive_data(b"ok\n", now + 0.01)) == acks(general.receive_data(b"ok\n", now + 0.01))
    assert hot.data_to_send(now + 0.01) == general.data_to_send(now + 0.01)


def test_no_burst_is_offered_outside_the_steady_stream():
    sender = started()
    assert sender.burst(0.0) is None, "nothing waits"
    for command in commands(10):
        sender.submit(command)
    sender.data_to_send(0.0)
    assert sender.burst(0.0) is not None

    partial = started()
    for command in commands(10):
        partial.submit(command)
    partial.data_to_send(0.0)
    partial.receive_data(b"o", 0.0)
    assert partial.burst(0.0) is None, "a reply half read belongs to the general path's parser"

    urgent = started()
    for command in commands(10):
        urgent.submit(command)
    urgent.data_to_send(0.0)
    urgent.submit("M105", urgent=True)
    assert urgent.burst(0.0) is None, "an urgent command goes first, on the general path"

    doubtful = started()
    for command in commands(10):
        doubtful.submit(command)
    doubtful.data_to_send(0.0)
    doubtful.receive_data(b"ok\n\xff\xfegarbage\n", 0.01)
    assert doubtful.mode is SenderMode.DOUBTFUL
    assert doubtful.burst(0.01) is None, "an uncertain window is resynchronised first"

    homing = started()
    for command in ["G1 X1", "G28", "G1 X2"]:
        homing.submit(command)
    homing.data_to_send(0.0)
    homing.receive_data(b"ok\n", 0.01)
    assert homing.burst(0.01) is None, "a long-running command's silence is the general path's to judge"

    packed = started()
    packed.pack_with(MeatPack())
    for command in commands(10):
        packed.submit(command)
    packed.data_to_send(0.0)
    assert packed.burst(0.0) is None, "packed lines are not offered"
