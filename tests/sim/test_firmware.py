"""The firmware model alone: bytes in a byte at a time, replies out, no pty and no clock."""

from __future__ import annotations

import pytest

from farmctl.profiles import get_profile
from farmctl.protocol.gcode import encode
from farmctl.sim.firmware import MarlinFirmware


def make(profile: str = "marlin2", time_scale: float = 0.0, **kwargs: object) -> MarlinFirmware:
    fw = MarlinFirmware(get_profile(profile), time_scale=time_scale, **kwargs)  # type: ignore[arg-type]
    fw.boot(0.0)
    fw.take_output()
    return fw


def feed(fw: MarlinFirmware, data: bytes, now: float = 0.0) -> list[str]:
    """Deliver ``data`` one byte per call, as a UART would, and return the reply lines."""
    for byte in data:
        fw.receive(bytes([byte]), now)
    return replies(fw)


def replies(fw: MarlinFirmware) -> list[str]:
    return [line for _, data in fw.take_output() for line in data.decode().splitlines()]


def quiet(lines: list[str]) -> list[str]:
    """Without the busy keepalives a blocking command prints meanwhile."""
    return [line for line in lines if line != "echo:busy: processing"]


def raw(number: int, command: str, checksum: int) -> bytes:
    return f"N{number} {command}*{checksum}\n".encode()


def numbered(fw: MarlinFirmware) -> list[tuple[int | None, str]]:
    return [(e.line_number, e.command) for e in fw.executed]


# -- line checks ------------------------------------------------------------------------------

def test_numbered_lines_are_acked_and_recorded_in_order() -> None:
    fw = make()
    assert feed(fw, encode(1, "G28") + encode(2, "G1 X10 F3000") + encode(3, "M400")) == ["ok", "ok", "ok"]
    assert numbered(fw) == [(1, "G28"), (2, "G1 X10 F3000"), (3, "M400")]
    assert all(e.numbered for e in fw.executed)


ERROR_CASES = [
    # (profile, bytes after N1 was accepted, expected replies)
    ("marlin2", raw(2, "G1 X1", 0), ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]),
    ("marlin2", encode(3, "G1 X1"), ["Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok"]),
    ("marlin2", encode(1, "G1 X1"), ["Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok"]),
    ("marlin2", b"N2 G1 X1\n", ["Error:No Checksum with line number, Last Line: 1", "Resend: 2", "ok"]),
    ("marlin2", b"N2 G1 X1 ; go*12\n", ["Error:No Checksum with line number, Last Line: 1", "Resend: 2", "ok"]),
    ("marlin1", raw(2, "G1 X1", 0), ["Error:checksum mismatch, Last Line: 1", "Resend: 2"]),
    ("prusa-mk3", raw(2, "G1 X1", 0), ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]),
    ("marlin2-advanced-ok", raw(2, "G1 X1", 0), ["Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]),
]


@pytest.mark.parametrize(("profile", "data", "expected"), ERROR_CASES)
def test_line_errors_reply_error_resend_and_ok_per_profile(profile: str, data: bytes, expected: list[str]) -> None:
    fw = make(profile)
    feed(fw, encode(1, "M400"))
    assert feed(fw, data) == expected
    assert numbered(fw) == [(1, "M400")]  # the rejected line never ran
    assert fw.stats.errors == 1


def test_resent_line_that_was_already_accepted_never_runs_twice() -> None:
    fw = make()
    feed(fw, encode(1, "G1 X1") + encode(2, "G1 X2"))
    assert feed(fw, encode(2, "G1 X2"))[0].startswith("Error:Line Number is not Last Line Number+1")
    assert feed(fw, encode(3, "G1 X3")) == ["ok"]
    assert [n for n, _ in numbered(fw)] == [1, 2, 3]


def test_m110_with_line_number_resets_numbering_as_soon_as_it_is_read() -> None:
    fw = make(time_scale=1.0)
    feed(fw, encode(1, "G28"))  # blocks the queue for 8 s
    assert feed(fw, b"N0 M110 N0*125\n" + encode(1, "G1 X5")) == []  # both queued behind G28
    fw.advance(100.0)
    assert [line for line in replies(fw) if not line.startswith("echo:busy")] == ["ok", "ok", "ok"]
    assert numbered(fw) == [(1, "G28"), (0, "M110 N0"), (1, "G1 X5")]


def test_bare_m110_resets_numbering_only_when_it_runs() -> None:
    fw = make(time_scale=1.0)
    feed(fw, encode(1, "G28"))
    feed(fw, b"M110 N0\n" + encode(1, "G1 X5"))  # N1 is read before the M110 has run
    fw.advance(100.0)
    lines = [line for line in replies(fw) if not line.startswith("echo:busy")]
    assert lines == ["ok", "Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok", "ok"]


def test_comments_and_blank_lines_get_no_ok() -> None:
    fw = make()
    assert feed(fw, b"\n\r\n; just a comment\n   ;indented\n") == []
    assert fw.executed == []


def test_overlong_line_is_truncated_and_loses_its_checksum() -> None:
    fw = make()
    long_line = f"N1 M117 {'y' * 100}*7\n".encode()  # Marlin keeps 95 characters: '*7' is cut off
    assert feed(fw, long_line) == ["Error:No Checksum with line number, Last Line: 0", "Resend: 1", "ok"]


# -- the RX ring flush and the tails it leaves --------------------------------------------------

def test_error_flushes_lines_waiting_in_the_rx_ring() -> None:
    fw = make(time_scale=1.0)
    feed(fw, encode(1, "G28"))  # executing: Marlin reads nothing until it finishes
    feed(fw, raw(2, "G1 X2", 0) + encode(3, "G1 X3") + encode(4, "G1 X4"), now=1.0)
    fw.advance(20.0)
    assert quiet(replies(fw)) == ["ok", "Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]
    assert numbered(fw) == [(1, "G28")]  # N3 and N4 vanished with no reply at all
    assert fw.stats.bytes_flushed == len(encode(3, "G1 X3") + encode(4, "G1 X4"))


TAIL_CASES = [
    # profile, the part of N3 that arrives after the flush, expected replies, executed tail
    ("marlin2", b" G1 X3*", ["ok"], (None, "G1 X3")),
    ("marlin2", b"3 G1 X3*", ['echo:Unknown command: "3 G1 X3"', "ok"], (None, "3 G1 X3")),
    ("marlin1", b" G1 X3*", ["Error:No Line Number with checksum, Last Line: 1", "Resend: 2"], None),
    ("prusa-mk3", b" G1 X3*", ["Error:No Line Number with checksum, Last Line: 1", "Resend: 2", "ok"], None),
]


@pytest.mark.parametrize(("profile", "tail", "expected", "tail_record"), TAIL_CASES)
def test_tail_of_a_line_cut_by_the_flush(profile: str, tail: bytes, expected: list[str],
                                         tail_record: tuple[None, str] | None) -> None:
    fw = make(profile, time_scale=1.0)
    feed(fw, encode(1, "G28"))
    line3 = encode(3, "G1 X3")
    cut = len(line3) - len(tail) - 3  # the bytes before the tail arrive before the flush
    feed(fw, raw(2, "G1 X2", 0) + line3[:cut], now=1.0)
    fw.advance(20.0)
    assert quiet(replies(fw))[1:] == ["Error:checksum mismatch, Last Line: 1", "Resend: 2"] + (["ok"] if fw.profile.ok_after_resend else [])
    assert feed(fw, line3[cut:], now=21.0) == expected
    tails = [(e.line_number, e.command) for e in fw.executed if not e.numbered]
    assert tails == ([tail_record] if tail_record else [])


def test_ring_overflow_drops_bytes_while_marlin_is_not_reading() -> None:
    fw = make(time_scale=1.0)
    feed(fw, encode(1, "G28"))  # blocking: nothing moves from the RX ring to the queue
    flood = b"".join(encode(n, "G1 X1 Y1 Z1") for n in range(2, 20))
    assert feed(fw, flood, now=1.0) == []
    assert fw.stats.bytes_dropped == len(flood) - 127  # the ring keeps rx_buffer - 1 bytes
    fw.advance(20.0)
    lines = quiet(replies(fw))
    assert lines == ["ok"] * 7  # G28 and N2..N7; N8 was cut after 11 bytes
    assert [e.line_number for e in fw.executed] == list(range(1, 8))
    # the host's next line is glued to what is left of N8
    assert feed(fw, encode(20, "G1 X1"), now=21.0) == ["Error:checksum mismatch, Last Line: 7", "Resend: 8", "ok"]


def test_a_native_usb_board_holds_back_what_its_ring_has_no_room_for() -> None:
    fw = make("marlin2-usb", time_scale=1.0)
    feed(fw, encode(1, "G28"))  # blocking: nothing moves from the RX ring to the queue
    flood = b"".join(encode(n, "G1 X1 Y1 Z1") for n in range(2, 20))
    assert feed(fw, flood, now=1.0) == []
    assert fw.stats.bytes_dropped == 0
    assert fw.stats.bytes_received == len(encode(1, "G28")) + 127  # the rest waits on the USB side, unread
    fw.advance(20.0)
    assert quiet(replies(fw)) == ["ok"] * 19  # G28 and every line of the flood, none lost
    assert [e.line_number for e in fw.executed] == list(range(1, 20))
    assert fw.stats.bytes_received == len(encode(1, "G28")) + len(flood)


def test_an_m112_behind_held_back_bytes_waits_for_room_in_the_ring() -> None:
    fw = make("marlin2-usb", time_scale=1.0, caps={"EMERGENCY_PARSER": True})
    feed(fw, encode(1, "G28"))
    feed(fw, b"".join(encode(n, "G1 X1 Y1 Z1") for n in range(2, 20)) + b"M112\n", now=1.0)
    assert not fw.halted  # its bytes have not reached the board
    fw.advance(20.0)
    assert fw.halted


# -- when the ok comes ----------------------------------------------------------------------

def test_g1_acks_only_when_it_enters_the_planner() -> None:
    fw = make(time_scale=1.0)
    moves = [encode(n, f"G1 X{n * 10} F600") for n in range(1, 17)]  # 10 mm at 10 mm/s: 1 s each
    for n, line in enumerate(moves[:15], start=1):
        assert feed(fw, line, now=0.0) == ["ok"], n
    assert feed(fw, moves[15], now=0.0) == []  # planner holds 15 blocks: the 16th waits
    fw.advance(0.999)
    assert replies(fw) == []
    fw.advance(1.001)
    assert fw.take_output() == [(1.0, b"ok\n")]


def test_advanced_ok_reports_line_planner_and_queue_space() -> None:
    fw = make("marlin2-advanced-ok", time_scale=1.0)
    assert feed(fw, encode(1, "G1 X10 F600")) == ["ok N1 P14 B3"]
    assert feed(fw, b"M400\n") == []
    fw.advance(5.0)
    assert replies(fw) == ["ok P15 B3"]
    assert feed(fw, encode(2, "M105"), now=5.0) == ["ok T:25.00 /0.00 B:25.00 /0.00 @:0 B@:0"]
    assert feed(fw, encode(9, "M400"), now=5.0)[1:] == ["Resend: 3", "ok"]  # the ok after Resend is bare


def test_busy_keepalive_while_homing() -> None:
    fw = make(time_scale=0.5)  # G28 takes 8 s -> 4 s, keepalive 2 s -> 1 s
    feed(fw, encode(1, "G28"))
    fw.advance(10.0)
    out = fw.take_output()
    assert [line for _, line in out] == [b"echo:busy: processing\n"] * 3 + [b"ok\n"]
    assert [t for t, _ in out] == [1.0, 2.0, 3.0, 4.0]


def test_m109_reports_temperatures_each_second_until_hot() -> None:
    fw = make(time_scale=0.1)
    feed(fw, encode(1, "M109 S200"))
    fw.advance(100.0)
    lines = replies(fw)
    reports = [line for line in lines if line.startswith(" T:")]
    assert reports[0] == " T:25.00 /200.00 B:25.00 /0.00 @:127 B@:0 W:?"
    assert reports[-1].startswith(" T:200.00 /200.00") and reports[-1].endswith("W:0")
    assert "echo:busy: processing" in lines
    assert lines[-1] == "ok"
    assert fw.hotend.temp == pytest.approx(200.0)


# -- reports -----------------------------------------------------------------------------------

def test_m105_m114_m115_and_m155_formats() -> None:
    fw = make()
    assert feed(fw, b"M105\n") == ["ok T:25.00 /0.00 B:25.00 /0.00 @:0 B@:0"]
    assert feed(fw, b"G1 X12.5 Y3 F3000\nM114\n") == ["ok", "X:12.50 Y:3.00 Z:0.00 E:0.00 Count X:1000 Y:240 Z:0", "ok"]
    m115 = feed(fw, b"M115\n")
    assert m115[0].startswith("FIRMWARE_NAME:Marlin 2.1.2.1 ")
    assert "Cap:EMERGENCY_PARSER:1" in m115 and "Cap:AUTOREPORT_TEMP:1" in m115 and m115[-1] == "ok"
    assert feed(fw, b"M155 S2\n") == ["ok"]
    fw.advance(5.0)
    assert replies(fw) == [" T:25.00 /0.00 B:25.00 /0.00 @:0 B@:0"] * 2  # at 2 s and 4 s, no ok


@pytest.mark.parametrize(("profile", "first"), [
    ("marlin1", "FIRMWARE_NAME:Marlin 1.1.9 "),
    ("prusa-mk3", "FIRMWARE_NAME:Prusa-Firmware 3.14.0+8072 based on Marlin "),
])
def test_m115_names_the_firmware_of_each_profile(profile: str, first: str) -> None:
    lines = feed(make(profile), b"M115\n")
    assert lines[0].startswith(first)
    if profile == "prusa-mk3":
        assert "MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:1" in lines[0]


def test_caps_can_be_overridden() -> None:
    fw = make(caps={"EMERGENCY_PARSER": False, "MEATPACK": True})
    lines = feed(fw, b"M115\n")
    assert "Cap:EMERGENCY_PARSER:0" in lines and "Cap:MEATPACK:1" in lines


def test_unknown_and_misc_commands() -> None:
    fw = make()
    assert feed(fw, b"M9999 X1\n") == ['echo:Unknown command: "M9999 X1"', "ok"]
    assert feed(fw, b"M27\n") == ['echo:Unknown command: "M27"', "ok"]  # no SD card slot: no SDSUPPORT
    assert feed(fw, b"M117 Hello\n") == ["ok"]
    assert feed(fw, b"M999\n") == ["Resend: 1", "ok", "ok"]


# -- emergencies, resets, host actions ---------------------------------------------------------

def test_emergency_m112_kills_at_once_even_with_a_full_queue() -> None:
    fw = make(time_scale=1.0)
    feed(fw, encode(1, "G28") + encode(2, "G1 X1") + encode(3, "G1 X2") + encode(4, "G1 X3"))
    assert feed(fw, b"M112\n", now=0.5) == ["Error:Printer halted. kill() called!"]
    assert fw.halted
    fw.advance(60.0)
    assert feed(fw, encode(5, "M105"), now=60.0) == []
    assert numbered(fw) == [(1, "G28")]


def test_without_emergency_parser_m112_waits_its_turn() -> None:
    fw = make("marlin1", time_scale=1.0)
    feed(fw, encode(1, "G28"))
    assert feed(fw, b"M112\n", now=0.5) == []
    fw.advance(60.0)
    assert replies(fw)[-1] == "Error:Printer halted. kill() called!"


def test_emergency_m108_ends_a_heating_wait() -> None:
    fw = make(time_scale=1.0)
    feed(fw, encode(1, "M109 S200"))
    fw.advance(3.0)
    replies(fw)
    assert feed(fw, b"M108\n", now=3.0)[-2:] == ["ok", "ok"]  # the M109 acks at once, then the M108 line
    assert [e.command for e in fw.executed] == ["M109 S200", "M108"]
    assert fw.hotend.target == 200.0


def test_reset_prints_start_and_forgets_line_numbers() -> None:
    fw = make()
    feed(fw, encode(1, "G1 X1") + encode(2, "G1 X2"))
    fw.reset(1.0)
    assert replies(fw)[:3] == ["start", "echo:External Reset", "Marlin 2.1.2.1"]
    assert feed(fw, encode(1, "G1 X1"), now=1.0) == ["ok"]
    assert fw.stats.resets == 1


def test_host_action_lines() -> None:
    fw = make()
    fw.action("pause", "", 0.0)
    fw.action("prompt_begin", "Filament runout", 0.0)
    assert replies(fw) == ["//action:pause", "//action:prompt_begin Filament runout"]


def test_m876_prompt_answer_is_taken_by_the_emergency_parser() -> None:
    fw = make()
    assert feed(fw, b"M876 S1\n") == ["ok"]
    assert fw.prompt_responses == [1]


# -- Prusa quirks ------------------------------------------------------------------------------

def test_prusa_full_rx_buffer_flushes_after_an_overflow() -> None:
    fw = make("prusa-mk3", time_scale=1.0)
    feed(fw, encode(1, "G28") + b"".join(encode(n, "G1 X1") for n in range(2, 5)))
    feed(fw, b"".join(encode(n, "G1 X1 Y2 Z3 E4") for n in range(5, 15)), now=1.0)
    assert fw.stats.bytes_dropped > 0
    fw.advance(20.0)
    assert "Full RX Buffer" in replies(fw)


def test_prusa_rx_timeout_discards_a_partial_line() -> None:
    fw = make("prusa-mk3", time_scale=0.5)  # rx_timeout 2 s -> 1 s
    assert feed(fw, b"N1 G1 X", now=0.0) == []
    fw.advance(1.5)
    assert replies(fw) == ["RX timeout"]
    assert feed(fw, encode(1, "G1 X1"), now=2.0) == ["ok"]


def test_planner_starvation_counts_gaps_between_moves_but_not_homing() -> None:
    fw = make(time_scale=1.0)
    feed(fw, b"G1 X10 F600\n", now=0.0)  # 1 s of motion
    feed(fw, b"G1 X20\n", now=1.5)        # the host was 0.5 s late
    feed(fw, b"G28\n", now=2.5)           # homing: 8 s with an empty planner, not the host's fault
    fw.advance(10.5)
    feed(fw, b"G1 X10\n", now=10.5)
    fw.advance(20.0)
    assert fw.snapshot().planner_starved_s == pytest.approx(0.5)
    assert fw.stats.moves == 3 and fw.stats.busy_s == pytest.approx(8.0)
