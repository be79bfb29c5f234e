"""Random jobs through the simulator over a real pty, with random line noise, resets and unplugs.

The property: every job command runs exactly once and in order; or, after a reset or unplug,
the print stops in a clear state and nothing after the stop runs.
"""

import asyncio
import contextlib
import os
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from farmctl.printer import JobOutcome, Printer
from farmctl.profiles import get_profile
from farmctl.reactor import Reactor
from farmctl.sim import Faults, SimulatedPrinter
from farmctl.sim.wire import LineFaults
from servings import SERVINGS, close_serving, hot_loop_env, serving_for


PTY_EXAMPLES = 300 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 12
"""Each example prints over a real pty with the sender's real timers (0.1 to 5 s each), so the suite runs a
dozen; the sender's own properties (tests/protocol) run 200 examples, fed whole, in fragments and byte by byte."""

noise = st.one_of(st.just(0.0), st.floats(min_value=0.0001, max_value=0.004))


def edits(a: str, b: str) -> int:
    """Levenshtein distance: how many bytes were damaged, dropped or added."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def damaged_undetectably(sent: str, received: str) -> bool:
    """A line damaged on the wire in a way Marlin's XOR checksum cannot see.

    One damaged byte always changes the checksum, so this takes two or more in the same line: two
    flips of the same bit, or a flip in the command and a matching one in the ``*cs`` digits or the
    ``N<n>`` prefix (which the record does not show). No host can catch that; what must never
    happen is a different command in the line's place, which would mean the host numbered wrongly.
    When one of the flips made a byte ``*`` (``.`` and ``*`` differ in one bit), Marlin's parser ends
    the command there, so what ran is the damaged line cut short.
    """
    if edits(sent, received) <= 3:
        return True
    return len(received) < len(sent) and edits(sent[:len(received)], received) <= 2


HOST_COMMANDS = frozenset({"M105", "M155 S2", "M115", "M876 P1", "M21", "M20", "M20 L"})  # M21/M20: the card, asked at connect


def check_ran_once_in_order(executed, expected: list[str], complete: bool) -> None:
    sessions = [index for index, e in enumerate(executed) if e.command.startswith("M110")]
    executed = executed[sessions[-1] + 1:]  # the print runs in the last session; M110 restarts numbering
    numbered = [e for e in executed if e.numbered]
    # the job is every numbered line but those the host adds itself (temperature polls, autoreport);
    # a job line damaged past the checksum may no longer look like G-code, so it is not filtered by look
    job = [e for e in numbered if e.command not in HOST_COMMANDS]
    if complete:
        assert len(job) == len(expected)
    else:
        assert len(job) <= len(expected)
    numbers = [e.line_number for e in numbered]
    assert numbers == sorted(set(numbers)), "a line ran twice or out of order"
    for record, command in zip(job, expected):
        assert record.command == command or damaged_undetectably(command, record.command)
    stray = [e for e in executed if not e.numbered and e.command[:1] in "GMT"]
    assert not stray, f"a flushed line's tail ran: {stray}"


SHARED_REACTOR = "reactor gathering 1 ms, shared with an idle printer"
"""A reactor with two ports attached gathers its wakeups (farm.toml's serial_gather_ms = 1), on the general path."""
SHARED_C_LOOP = "reactor's C hot loop, shared with an idle printer"
"""The C loop runs the burst while the reactor watches the idle port beside it."""
SHARED = {SHARED_REACTOR: "off", SHARED_C_LOOP: "c"}


@pytest.mark.parametrize("serving", [*SERVINGS, *SHARED])
@settings(max_examples=PTY_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moves=st.integers(min_value=1, max_value=400),
    profile=st.sampled_from(["marlin2", "marlin2-advanced-ok", "marlin1", "prusa-mk3", "marlin2-usb"]),
    rx_corrupt=noise, rx_drop=noise, tx_corrupt=noise, tx_drop=noise,
    stop=st.sampled_from([None, None, "reset", "unplug"]),
    stop_after=st.integers(min_value=10, max_value=300),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_every_command_runs_once_in_order_or_the_print_stops_clearly(
        tmp_path_factory, serving, moves, profile, rx_corrupt, rx_drop, tx_corrupt, tx_drop, stop, stop_after, seed,
        write_job):
    job = tmp_path_factory.mktemp("job") / "job.gcode"
    expected = write_job(job, moves, seed)
    # the handshake runs on a clean line; noise starts with the print
    faults = Faults(reset_after_commands=stop_after if stop == "reset" else None,
                    unplug_after_commands=stop_after if stop == "unplug" else None, seed=seed)
    with SimulatedPrinter(profile, full_speed=True, time_scale=0, faults=faults) as sim:
        result, executed_at_stop = asyncio.run(_print(sim, job, (rx_corrupt, rx_drop, tx_corrupt, tx_drop), serving,
                                                      named_only(profile)))
        executed = sim.executed
    fired = stop is not None and len(executed) >= stop_after  # the reset or unplug happened
    if result.outcome == JobOutcome.DONE:
        check_ran_once_in_order(executed, expected, complete=True)
    else:
        assert fired, f"print failed without a reset or unplug: {result.reason}"
        assert ("reset" in result.reason) if stop == "reset" else ("port gone" in result.reason)
        check_ran_once_in_order(executed, expected, complete=False)
        assert len(executed) == executed_at_stop, "something ran after the print stopped"


def named_only(profile: str) -> str | None:
    """The profile, if M115 cannot tell it (a native-USB board answers as Marlin 2): the host is told."""
    return None if get_profile(profile).m115_firmware_name else profile


def set_noise(sim: SimulatedPrinter, rx_corrupt, rx_drop, tx_corrupt, tx_drop) -> None:
    def apply(_firmware) -> None:
        sim.wire.rx.faults = LineFaults(rx_corrupt, rx_drop)
        sim.wire.tx.faults = LineFaults(tx_corrupt, tx_drop)
    sim.inspect(apply)


async def _print(sim: SimulatedPrinter, job, noise, serving: str, profile: str | None = None):
    with contextlib.ExitStack() as stack:
        if serving in SHARED:
            stack.enter_context(mock.patch.dict(os.environ, {"FARMCTL_HOT_LOOP": SHARED[serving]}))
            served = Reactor(gather=0.001)
        else:
            stack.enter_context(mock.patch.dict(os.environ, hot_loop_env(serving)))
            served = serving_for(serving)
        printers = [Printer("prop", sim.path, profile=profile, handshake_timeout=5, serving=served)]
        if serving in SHARED:
            other = stack.enter_context(SimulatedPrinter("marlin2", full_speed=True, time_scale=0))
            printers.append(Printer("idle", other.path, handshake_timeout=5, serving=served))
        try:
            for printer in printers:
                await printer.connect()
            set_noise(sim, *noise)
            result = await asyncio.wait_for(printers[0].print_file(job), 120)
            count = len(sim.executed)
            await asyncio.sleep(0.05)
            return result, count
        finally:
            for printer in printers:
                await printer.disconnect()
            await close_serving([served])
