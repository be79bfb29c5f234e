"""The sender's rules, fed reply lines by hand (no firmware, no I/O)."""

import pytest

from farmctl.profiles import get_profile
from farmctl.protocol.replies import Start
from farmctl.protocol.events import Acknowledged, NotResponding, Resending
from farmctl.protocol.sender import PARTIAL_REPLY_TIMEOUT, TICKLE_QUIET, Sender

MOVE = "G1 X10.000 Y10.000 E0.50000"


def started(profile="marlin2"):
    sender = Sender(get_profile(profile))
    sender.start_session(0.0)
    assert sender.data_to_send(0.0) == b"N0 M110 N0*125\n"
    sender.receive_data(b"ok\n", 0.0)
    return sender


def lines(data: bytes) -> list[int]:
    return [int(line.split(b" ")[0][1:]) for line in data.splitlines()]


def acks(events):
    return [e.line for e in events if isinstance(e, Acknowledged)]


def test_send_ahead_fills_the_rx_buffer_but_no_more():
    sender = started()
    for _ in range(10):
        sender.submit(MOVE)
    data = sender.data_to_send(0.0)
    assert len(data) <= 127
    assert lines(data) == [1, 2, 3]
    assert sender.data_to_send(0.0) == b""
    assert acks(sender.receive_data(b"ok\n", 0.01)) == [1]
    assert lines(sender.data_to_send(0.01)) == [4]


def test_ping_pong_profile_sends_one_line_at_a_time():
    sender = Sender(get_profile("marlin2").with_ping_pong())
    sender.start_session(0.0)
    sender.data_to_send(0.0)
    sender.receive_data(b"ok\n", 0.0)
    for _ in range(3):
        sender.submit("G1 X1")
    assert lines(sender.data_to_send(0.0)) == [1]
    sender.receive_data(b"ok\n", 0.0)
    assert lines(sender.data_to_send(0.0)) == [2]


def test_one_resend_per_burst_and_the_ok_after_resend_is_no_credit():
    sender = started()
    for _ in range(3):
        sender.submit("G1 X1")
    assert lines(sender.data_to_send(0.0)) == [1, 2, 3]
    events = sender.receive_data(b"ok\nError:checksum mismatch, Last Line: 1\nResend: 2\nok\n", 0.01)
    assert acks(events) == [1]
    assert Resending(2) in events
    # recovery: one re-sent line until the firmware takes it, so a stale line's flush cannot eat the rest
    assert lines(sender.data_to_send(0.01)) == [2]
    # line 3 was still on the wire when Marlin flushed: its own error arrives and is not acted on
    events = sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 1\nResend: 2\nok\n", 0.02)
    assert not any(isinstance(e, Resending) for e in events)
    assert sender.data_to_send(0.02) == b""
    assert acks(sender.receive_data(b"ok\n", 0.03)) == [2]  # the firmware took the re-sent line
    assert lines(sender.data_to_send(0.03)) == [3]
    assert acks(sender.receive_data(b"ok\n", 0.04)) == [3]


def test_a_resent_line_lost_in_a_flush_is_sent_again_after_a_quiet_moment():
    sender = started()
    sender.submit("G1 X1")
    sender.submit("G1 X2")
    sender.data_to_send(0.0)
    sender.receive_data(b"Error:checksum mismatch, Last Line: 0\nResend: 1\nok\n", 0.01)
    assert lines(sender.data_to_send(0.01)) == [1]
    # the stale line 2 arrives, is rejected and its flush takes the re-sent line 1 with it
    sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 0\nResend: 1\nok\n", 0.02)
    assert sender.data_to_send(0.02) == b""
    deadline = sender.next_deadline()
    assert 0.02 < deadline <= 0.2
    sender.tick(deadline)
    assert lines(sender.data_to_send(deadline)) == [1]
    assert acks(sender.receive_data(b"ok\n", deadline + 0.01)) == [1]
    assert lines(sender.data_to_send(deadline + 0.01)) == [2]


def test_resend_of_a_line_never_sent_is_ignored():
    sender = started()
    sender.submit("G1 X1")
    sender.data_to_send(0.0)
    events = sender.receive_data(b"Resend: 34497\nok\n", 0.01)
    assert not any(isinstance(e, Resending) for e in events)
    assert sender.stats.resend_requests_ignored == 1
    assert acks(sender.receive_data(b"ok\n", 0.02)) == [1]


def test_marlin1_sends_no_ok_after_resend_so_the_next_ok_counts():
    sender = started("marlin1")
    sender.submit("G1 X1")
    sender.data_to_send(0.0)
    sender.receive_data(b"Error:checksum mismatch, Last Line: 0\nResend: 1\n", 0.01)
    assert lines(sender.data_to_send(0.01)) == [1]
    assert acks(sender.receive_data(b"ok\n", 0.02)) == [1]


def test_a_garbled_reply_slips_in_an_m105_whose_ok_resynchronises():
    sender = started()
    for _ in range(4):
        sender.submit("G1 X1")
    assert lines(sender.data_to_send(0.0)) == [1, 2, 3, 4]  # the four command slots
    events = sender.receive_data(b"o\xe9\n", 0.01)  # line 1's ok, corrupted
    assert sender.uncertain
    assert lines(sender.data_to_send(0.01)) == [5]  # the M105 goes at once, one past the slots
    # The firmware ran 1 (its ok lost), 2, 3, 4, then the M105: three oks, then the M105's ok T:.
    events += sender.receive_data(b"ok\nok\nok\nok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0\n", 0.02)
    assert acks(events) == [1, 2, 3, 4]
    assert sender.in_flight == 0


def test_ping_pong_is_not_stuck_by_a_garbled_ok():
    sender = Sender(get_profile("marlin2").with_ping_pong())
    sender.start_session(0.0)
    sender.data_to_send(0.0)
    sender.receive_data(b"ok\n", 0.0)
    sender.submit("G1 X1")
    sender.submit("G1 X2")
    assert lines(sender.data_to_send(0.0)) == [1]
    events = sender.receive_data(b"o\xe9\n", 0.01)  # line 1's ok, corrupted
    resync = sender.data_to_send(0.01)
    assert lines(resync) == [2] and b"M105" in resync  # past the one-line window: nothing else would answer
    events += sender.receive_data(b"ok T:20.0 /0.0 B:20.0 /0.0\n", 0.02)
    assert acks(events) == [1]
    assert lines(sender.data_to_send(0.02)) == [3]  # and the stream goes on, with no stall


def test_silence_with_lines_in_flight_is_tickled_with_an_m105_every_half_second():
    sender = started()
    sender.submit("G1 X1")
    assert lines(sender.data_to_send(0.0)) == [1]
    # Line 1's end was lost on the wire: the firmware waits for the rest of it and says nothing.
    assert sender.next_deadline() == pytest.approx(TICKLE_QUIET)
    assert sender.tick(TICKLE_QUIET) == []
    tickle = sender.data_to_send(TICKLE_QUIET)
    assert lines(tickle) == [2] and b"M105" in tickle
    assert sender.next_deadline() == pytest.approx(2 * TICKLE_QUIET)
    # That M105 went astray too (it finished the broken line); half a second later, another.
    sender.tick(2 * TICKLE_QUIET)
    again = sender.data_to_send(2 * TICKLE_QUIET)
    assert lines(again) == [3] and b"M105" in again
    # The firmware read line 1 and the first M105 as one line with a bad checksum.
    events = sender.receive_data(b"Error:checksum mismatch, Last Line: 0\nResend: 1\nok\n", 1.01)
    assert lines(sender.data_to_send(1.01)) == [1]
    events += sender.receive_data(b"ok\n", 1.02)
    assert lines(sender.data_to_send(1.02)) == [2, 3]  # taken: the rest of the history goes on
    events += sender.receive_data(b"ok T:20.0 /0.0 B:20.0 /0.0\nok T:20.0 /0.0 B:20.0 /0.0\n", 1.03)
    assert acks(events) == [1]
    assert sender.in_flight == 0 and sender.stats.stalls == 0


def test_a_reply_that_lost_its_line_end_is_judged_after_a_moment():
    sender = started()
    sender.submit("G1 X1")
    assert lines(sender.data_to_send(0.0)) == [1]
    assert sender.receive_data(b"ok", 0.01) == []  # its \n was lost
    assert sender.next_deadline() == pytest.approx(0.01 + PARTIAL_REPLY_TIMEOUT)
    assert acks(sender.tick(0.01 + PARTIAL_REPLY_TIMEOUT)) == [1]


def test_a_reply_in_two_reads_is_one_line():
    sender = started()
    sender.submit("M105")
    sender.data_to_send(0.0)
    assert sender.receive_data(b"ok T:20.0 /0", 0.01) == []
    events = sender.receive_data(b".0 B:20.0 /0.0\n", 0.012)
    assert acks(events) == [1]


def test_a_flushed_tails_ok_is_no_credit_and_doubt_is_settled_before_idle():
    sender = started()
    sender.submit("G1 X1")
    sender.data_to_send(0.0)
    events = sender.receive_data(b"echo:Unknown command: \"X1*12\"\nok\n", 0.01)
    assert acks(events) == []  # that ok answered a fragment, not line 1
    assert sender.data_to_send(0.01).startswith(b"N2 M105*")  # resynchronise
    assert acks(sender.receive_data(b"ok\nok T:20.0 /0.0 B:20.0 /0.0\n", 0.02)) == [1]
    assert not sender.idle
    probe = sender.data_to_send(0.03)
    assert probe.startswith(b"N2 M105*")  # the last line again: Marlin will not run it twice
    sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 2\nResend: 3\nok\n", 0.04)
    assert sender.idle


def test_an_unknown_command_we_sent_is_acknowledged_normally():
    sender = started()
    sender.submit("M900 K0")
    sender.data_to_send(0.0)
    events = sender.receive_data(b"echo:Unknown command: \"M900 K0\"\nok\n", 0.01)
    assert acks(events) == [1]
    assert sender.idle


def test_lost_ok_costs_one_m105_round_trip_not_a_timeout():
    sender = started()
    sender.submit("G1 X1")
    sender.submit("G1 X2")
    sender.data_to_send(0.0)
    assert acks(sender.receive_data(b"ok\nk\n", 0.01)) == [1]  # line 2's ok arrives garbled
    assert sender.data_to_send(0.01).startswith(b"N3 M105*")
    assert acks(sender.receive_data(b"ok T:20.0 /0.0 B:20.0 /0.0\n", 0.02)) == [2]
    assert sender.data_to_send(0.02).startswith(b"N3 M105*")  # confirm: Marlin rejects the repeat
    sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 3\nResend: 4\nok\n", 0.03)
    assert sender.idle


def test_probe_that_finds_the_last_line_missing_resends_it():
    sender = started()
    sender.submit("G1 X1")
    sender.data_to_send(0.0)
    sender.receive_data(b"ok\n", 0.01)  # in fact the ok of something else: line 1 was lost
    sender.receive_data(b"k\n", 0.011)  # ...and a garbled line makes the host doubt
    probe = sender.data_to_send(0.02)
    assert probe.startswith(b"N1 G1 X1*")
    events = sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 0\nResend: 1\nok\n", 0.03)
    assert Resending(1) in events
    assert lines(sender.data_to_send(0.03)) == [1]


def test_silence_leads_to_probes_then_not_responding():
    sender = started()
    sender.submit("G1 X1")
    sender.data_to_send(0.0)
    now = 0.0
    events = []
    for _ in range(100):
        deadline = sender.next_deadline()
        assert deadline is not None
        now = deadline
        events += sender.tick(now)
        sender.data_to_send(now)
        if any(isinstance(e, NotResponding) for e in events):
            break
    assert any(isinstance(e, NotResponding) for e in events)
    assert now <= 20  # four stall timeouts of silence
    assert sender.stats.tickles <= 2 * sender.stats.stalls + 2  # a couple of M105s per silent round, no flood


def test_long_commands_do_not_time_out_early():
    sender = started()
    sender.submit("G28")
    sender.data_to_send(0.0)
    for now in (TICKLE_QUIET, 10.0, 300.0, 599.0):  # homing for minutes, without a word
        assert sender.tick(now) == []
        assert sender.data_to_send(now) == b""  # no tickle, no resend
    assert sender.stats.stalls == 0 and sender.stats.tickles == 0
    sender.tick(601.0)  # ten minutes: then it is a stall after all
    assert sender.stats.stalls == 1


def test_the_stall_clock_starts_when_a_line_goes_in_flight_not_at_the_last_ok():
    sender = started()  # the last ok came at 0.0; the printer then sat idle
    sender.submit("M104 S200")
    sender.data_to_send(100.0)
    assert sender.next_deadline() == pytest.approx(100.0 + TICKLE_QUIET)
    assert sender.tick(100.001) == [] and sender.stats.stalls == 0
    assert acks(sender.receive_data(b"ok\n", 100.01)) == [1]


def test_advanced_ok_ignores_an_ok_for_a_line_not_yet_taken():
    sender = started("marlin2-advanced-ok")
    sender.submit("G1 X1")
    sender.data_to_send(0.0)
    assert acks(sender.receive_data(b"ok N0 P15 B3\n", 0.01)) == []
    assert acks(sender.receive_data(b"ok N1 P15 B3\n", 0.02)) == [1]


def test_a_garbled_answer_to_the_end_probe_is_asked_again_not_taken_for_a_reset():
    sender = started()
    for _ in range(30):
        sender.submit("G1 X1")
    while sender.pending or sender.in_flight:
        sender.receive_data(b"ok\n" * len(lines(sender.data_to_send(1.0))), 1.0)
    sender.receive_data(b"o\n", 2.0)  # a reply that lost a byte: the end must be confirmed
    probe = sender.data_to_send(2.0)
    assert lines(probe) == [30]  # the last line again
    # The answer lost a digit on its way: "Last Line: 30 / Resend: 31" arrived as "3 / 1".
    events = sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 3\nResend: 1\nok\n", 2.01)
    assert not any(isinstance(e, Start) for e in events) and not sender.halted
    assert sender.data_to_send(2.01) == probe  # asked again at once
    sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 30\nResend: 31\nok\n", 2.02)
    assert sender.idle and not sender.halted


def test_a_reset_whose_start_was_garbled_is_recognised_when_numbering_goes_back():
    sender = started()
    for _ in range(20):
        sender.submit("G1 X1")
    for step in range(10):
        sender.data_to_send(step)
        sender.receive_data(b"ok\nok\nok\n", step + 0.5)
    events = sender.receive_data(b"stXrt\nError:Line Number is not Last Line Number+1, Last Line: 0\nResend: 1\nok\n", 11)
    assert not any(isinstance(e, Start) for e in events)  # one odd request may be a garbled number
    events = sender.receive_data(b"Error:Line Number is not Last Line Number+1, Last Line: 0\nResend: 1\nok\n", 11.1)
    assert any(isinstance(e, Start) for e in events)
    assert sender.halted and sender.data_to_send(11.2) == b""
