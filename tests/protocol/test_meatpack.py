"""MeatPack: the host's packing against the simulator's unpacker (Marlin's and Prusa's rules), a byte at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from farmctl.job import read_job
from farmctl.printer import JobOutcome, Printer
from farmctl.protocol.gcode import encode
from farmctl.protocol.meatpack import DISABLE, ENABLE, QUERY, RESYNC, MeatPack, firmware_unpacks, pack
from farmctl.protocol.replies import MeatPackState, parse_reply
from farmctl.sim import SimulatedPrinter
from farmctl.sim.jobs import write_curves
from farmctl.sim.meatpack import Unpacker


def unpack(data: bytes, unpacker: Unpacker | None = None) -> bytes:
    unpacker = unpacker or Unpacker()
    return b"".join(unpacker.feed(byte) for byte in data)


@pytest.mark.parametrize("line, packed", [
    (b"G1 X10\n", b"\x1d\xeb\x01\xbc"),            # odd: the newline alone, its second half ignored
    (b"G1 X1\n", b"\x1d\xeb\xc1"),                  # even: the newline is the second half
    (b"N1 M105*7\n", b"\x1f" + b"N" + b"\xfb" + b"M" + b"\x01\xf5" + b"*" + b"\xc7"),  # literals follow their byte
    (b"YE\n", b"\xff" + b"YE" + b"\xbc"),            # both halves literal: a lone 0xFF, never two
])
def test_lines_pack_as_the_format_says(line: bytes, packed: bytes) -> None:
    assert pack(line) == packed
    assert unpack(ENABLE + packed) == line


def test_commands_work_in_any_state_and_are_answered() -> None:
    unpacker = Unpacker(" [MP] ")  # Prusa's state line starts with a space
    assert unpack(b"G1\n" + QUERY, unpacker) == b"G1\n"  # off: bytes pass as they are
    assert unpack(ENABLE + b"\x1f", unpacker) == b""  # now packing, and waiting for a literal
    assert unpack(RESYNC + pack(b"G28\n"), unpacker) == b"G28\n"  # the reset ends the wait
    assert unpack(DISABLE + b"M112\n" + ENABLE + pack(b"M105\n"), unpacker) == b"M112\nM105\n"
    reports = unpacker.take_reports()
    assert reports[0] == " [MP] PV01 OFF ESP" and reports[-1] == " [MP] PV01 ON ESP"
    assert [parse_reply(r) for r in reports[-2:]] == [[MeatPackState(False, False)], [MeatPackState(True, False)]]


gcode_text = st.text(alphabet="GMTXYZEFSPN0123456789.- *;/:", min_size=1, max_size=60).map(str.strip).filter(bool)


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(gcode_text, min_size=1, max_size=20), start=st.integers(0, 99999),
       garbage=st.binary(max_size=6))
def test_packed_streams_unpack_to_the_same_lines_after_any_state(commands: list[str], start: int,
                                                                  garbage: bytes) -> None:
    """Whatever a flush left the unpacker in (random bytes here), RESYNC puts it back in step."""
    lines = [encode(start + i, c.replace("*", "")) for i, c in enumerate(commands)]
    unpacker = Unpacker()
    unpack(ENABLE + garbage.replace(b"\xff", b""), unpacker)
    assert unpack(RESYNC + b"".join(pack(line) for line in lines), unpacker) == b"".join(lines)
    # Each pair of characters is one byte of two halves, plus a byte per half MeatPack cannot pack:
    # at worst (nothing packable, say ':' or ';') three bytes for every two.
    assert all(len(pack(line)) <= len(line) + (len(line) + 1) // 2 for line in lines)


def test_which_firmwares_unpack() -> None:
    assert firmware_unpacks("Marlin 2.1.2.1", {"MEATPACK": True})
    assert not firmware_unpacks("Marlin 2.1.2.1", {"MEATPACK": False})
    assert firmware_unpacks("Prusa-Firmware 3.14.0+8072 based on Marlin", {})


@pytest.mark.parametrize("profile, caps", [("marlin2", {"MEATPACK": True}), ("prusa-mk3", None)])
def test_a_packed_print_runs_every_line_once_in_order_in_fewer_bytes(tmp_path: Path, profile: str, caps) -> None:
    job = tmp_path / "job.gcode"
    write_curves(job, 400)
    expected = [line.command for line in read_job(job)]
    received = {}
    for meatpack in (False, True):
        with SimulatedPrinter(profile, full_speed=True, time_scale=0, caps=caps) as sim:
            result = asyncio.run(_print(sim.path, job, meatpack))
            executed = sim.executed
            received[meatpack] = sim.stats.bytes_received
        assert result.outcome == JobOutcome.DONE, result.reason
        job_lines = [e.command for e in executed if e.numbered and e.command in set(expected)]
        assert job_lines == expected
        assert not [e for e in executed if not e.numbered]
    assert received[True] < received[False] * 0.7  # the wire carries about 60 % of the bytes


async def _print(port: str, job: Path, meatpack: bool):
    printer = Printer("mp", port, meatpack=meatpack, handshake_timeout=5)
    await printer.connect()
    try:
        return await asyncio.wait_for(printer.print_file(job), 60)
    finally:
        await printer.disconnect()


def test_the_codec_keeps_emergencies_readable_by_the_emergency_parser() -> None:
    assert MeatPack().unpacked(b"M112\n") == DISABLE + b"M112\n" + ENABLE
