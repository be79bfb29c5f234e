"""The sender's mode table: its plain-ok fast path and its general path agree, and HALTED holds."""

from hypothesis import given, settings, strategies as st

from farmctl.profiles import get_profile
from farmctl.protocol.mode import TRANSITIONS, SenderMode
from farmctl.protocol.sender import Sender

REPLIES = {
    "ok": b"ok\n",
    "garbled": b"o#\n",
    "temperature": b"ok T:20.0 /0.0 B:20.0 /0.0\n",
    "checksum": b"Error:checksum mismatch, Last Line: {last}\nResend: {next}\nok\n",
    "unknown": b"echo:Unknown command: \"X1\"\nok\n",
}


def fresh() -> Sender:
    sender = Sender(get_profile("marlin2"))
    sender.start_session(0.0)
    for n in range(40):
        sender.submit(f"G1 X{n}.000 Y{n}.000 E0.50000")
    return sender


def numbers(data: bytes) -> list[int]:
    return [int(line.split(b" ")[0][1:]) for line in data.splitlines() if line.startswith(b"N")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(REPLIES) + ["tick"]), st.floats(0.001, 0.7)), max_size=80))
def test_a_plain_ok_whole_or_in_parts_drives_the_sender_the_same_way(script) -> None:
    """``ok\\n`` in one read takes the fast path; ``o`` then ``k\\n`` the general one: same bytes, events, modes."""
    fast, general = fresh(), fresh()
    now = 0.0
    sent = fast.data_to_send(now)
    assert sent == general.data_to_send(now)
    modes = set()
    for kind, pause in script:
        now += pause
        if kind == "tick":
            assert fast.tick(now) == general.tick(now)
        elif kind == "ok":
            assert fast.receive_data(b"ok\n", now) == general.receive_data(b"o", now) + general.receive_data(b"k\n", now)
        else:
            sent_numbers = numbers(sent) or [1]
            reply = REPLIES[kind].replace(b"{last}", b"%d" % (sent_numbers[0] - 1)).replace(b"{next}", b"%d" % sent_numbers[0])
            assert fast.receive_data(reply, now) == general.receive_data(reply, now)
        assert fast.mode is general.mode
        modes.add(fast.mode)
        sent = fast.data_to_send(now)
        assert sent == general.data_to_send(now)
        assert (fast.idle, fast.uncertain, fast.in_flight) == (general.idle, general.uncertain, general.in_flight)


def firmware_answers(sent: bytes, expected: list[int]) -> bytes:
    """Marlin's rule for numbered lines: the next number runs and gets ok, any other is asked for again."""
    out = b""
    for number in numbers(sent):
        if number == expected[0]:
            expected[0] += 1
            out += b"ok\n"
        else:
            out += b"Error:Line Number is not Last Line Number+1, Last Line: %d\nResend: %d\nok\n" % (
                expected[0] - 1, expected[0])
    return out


def test_the_scripts_reach_every_mode_but_halted() -> None:
    """The property above is not vacuous: a resend, a doubt and a probe each put the sender in their mode."""
    sender = fresh()
    sent = b"".join(line + b"\n" for line in sender.data_to_send(0.0).splitlines() if not line.startswith(b"N1 "))
    expected = [0]  # line 1 is lost on the wire: the firmware asks for it again
    seen = [sender.mode]
    now = 0.0
    while not sender.idle and now < 10:
        now += 0.01
        sender.receive_data(firmware_answers(sent, expected), now)
        seen.append(sender.mode)
        sender.tick(now)
        sent = sender.data_to_send(now)
        seen.append(sender.mode)
    assert sender.idle and expected[0] == 41, seen  # every line ran once
    assert {SenderMode.STREAMING, SenderMode.RECOVERING, SenderMode.DOUBTFUL, SenderMode.PROBING} <= set(seen)


def test_only_a_new_session_leaves_halted() -> None:
    sender = fresh()
    sender.data_to_send(0.0)
    sender.receive_data(b"start\n", 0.01)
    assert sender.halted and TRANSITIONS[SenderMode.HALTED] == frozenset()
    sender.receive_data(b"Resend: 0\nok\n", 0.02)  # noise after the reboot changes nothing
    assert sender.halted and sender.data_to_send(0.03) == b""
    sender.start_session(0.04)
    assert sender.mode is SenderMode.STREAMING and sender.data_to_send(0.04) == b"N0 M110 N0*125\n"
