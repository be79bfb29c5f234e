"""The sender keeps the stream moving against a firmware that judges every line on its own.

AVR Marlin empties its RX buffer on a line error; OctoPrint's virtual printer does not, nor do
boards whose serial ``flush()`` only drains the transmitter: there every line still on the wire is
read and answered in turn (a stale line's ``Resend:``, a repeated line's rejection), and the ok of
an accepted line comes when it has run, so a rejection's ok can overtake it. The model here is that
firmware, with time passed in: numbered lines run only as last + 1, four command slots, moves that
take time, and faults of the wire (a line's first copy damaged, an accepted line's ok lost).
"""

from __future__ import annotations

from collections import Counter, deque

from hypothesis import given, settings, strategies as st

from farmctl.profiles import get_profile
from farmctl.protocol.events import Acknowledged
from farmctl.protocol.sender import Sender

STEP = 0.002
SLOTS = 4
TEMPERATURES = b"ok T:20.0 /0.0 B:20.0 /0.0\n"
STALL_SECONDS = 5.5


class JudgesEveryLine:
    """Marlin's rules for numbered lines, without the flush: each line read is taken or rejected."""

    def __init__(self, damaged: set[int], lost_oks: set[int], move_time: float) -> None:
        self.damaged = set(damaged)  # line numbers whose first copy arrives with a bad checksum
        self.lost_oks = set(lost_oks)  # line numbers whose ok is garbled on the way back
        self.move_time = move_time
        self.last = 0  # the handshake N0 M110 N0 is taken at once
        self.rx: deque[bytes] = deque()
        self.queue: deque[tuple[int, bytes]] = deque()  # taken, waiting to run: (number, command)
        self.running_until = 0.0
        self.ran: list[bytes] = []
        self.received: Counter[int] = Counter()  # copies of each line number read
        self.out = b""

    def receive(self, data: bytes) -> None:
        self.rx.extend(line for line in data.splitlines() if line)

    def advance(self, now: float) -> bytes:
        while self.queue and self.running_until <= now:
            number, command = self.queue.popleft()
            self.ran.append(command)
            if number in self.lost_oks:
                self.lost_oks.discard(number)
                self.out += b"o#\n"
            else:
                self.out += TEMPERATURES if command == b"M105" else b"ok\n"
            self.running_until = max(self.running_until, now) + (self.move_time if command.startswith(b"G1") else 0)
        while self.rx and len(self.queue) < SLOTS:  # a full queue leaves the RX buffer unread
            self._read(self.rx.popleft(), now)
        out, self.out = self.out, b""
        return out

    def next_event(self) -> float | None:
        """When the command running now finishes (None: nothing is running)."""
        return self.running_until if self.queue else None

    def _read(self, line: bytes, now: float) -> None:
        head, _, command = line.partition(b" ")
        number = int(head[1:])
        self.received[number] += 1
        if number == self.last + 1 and number in self.damaged:
            self.damaged.discard(number)
            self.out += b"Error:checksum mismatch, Last Line: %d\nResend: %d\nok\n" % (self.last, self.last + 1)
        elif number == self.last + 1:
            self.last = number
            if not self.queue:
                self.running_until = max(self.running_until, now)
            self.queue.append((number, command.rpartition(b"*")[0]))
        else:
            self.out += b"Error:Line Number is not Last Line Number+1, Last Line: %d\nResend: %d\nok\n" % (
                self.last, self.last + 1)


def stream(firmware: JudgesEveryLine, moves: int, limit: float = 30.0) -> tuple[Sender, list[Acknowledged], float]:
    """A job of ``moves`` G1 lines through a sender to ``firmware``; the sender, its acks and the time taken."""
    sender = Sender(get_profile("marlin2"))
    sender.start_session(0.0)
    for n in range(moves):
        sender.submit(f"G1 X{n}.000 Y{n % 7}.000 E0.50000", n)
    acknowledged: list[Acknowledged] = []
    now = 0.0
    firmware.receive(sender.data_to_send(now)[len(b"N0 M110 N0*125\n"):])
    sender.receive_data(b"ok\n", now)
    busy = True
    while not (sender.idle and sender.pending == 0) and now < limit:
        # One wire latency after anything moved, else straight to the next timer of either side.
        due = [t for t in (sender.next_deadline(), firmware.next_event()) if t is not None]
        now = now + STEP if busy or not due else max(now + STEP, min(due))
        replies = firmware.advance(now)
        if replies:
            acknowledged += [e for e in sender.receive_data(replies, now) if isinstance(e, Acknowledged)]
        deadline = sender.next_deadline()
        if deadline is not None and deadline <= now:
            sender.tick(now)
        sent = sender.data_to_send(now)
        firmware.receive(sent)
        busy = bool(replies or sent)
    return sender, [a for a in acknowledged if a.tag is not None], now


def moves_run(firmware: JudgesEveryLine) -> list[bytes]:
    return [command for command in firmware.ran if command.startswith(b"G1")]


def job(moves: int) -> list[bytes]:
    return [f"G1 X{n}.000 Y{n % 7}.000 E0.50000".encode() for n in range(moves)]


def test_a_copy_rejected_as_already_taken_opens_the_window_at_once() -> None:
    """Line 5 arrives damaged; its copy is taken but that ok is lost, so the quiet timer sends it
    once more, and the firmware rejects that with ``Resend: 6``: it has line 5.

    The recovery is over then. Before, the sender stayed in it, gave line 6's ok to the rejected
    copy, and re-sent every following line it had already sent once more after a quiet moment.
    """
    firmware = JudgesEveryLine(damaged={5}, lost_oks={5}, move_time=0.0)
    sender, acknowledged, seconds = stream(firmware, 20)
    assert sender.idle and moves_run(firmware) == job(20)
    assert [a.tag for a in acknowledged] == list(range(20))
    assert firmware.received[5] == 3  # damaged, taken (its ok lost), rejected as taken
    assert max(count for number, count in firmware.received.items() if number != 5) <= 2, firmware.received
    assert seconds < 0.2, f"{seconds:.2f} s"


def test_an_m105_whose_answer_is_lost_does_not_leave_the_stream_tickling_for_ever() -> None:
    """The last line's ok is lost, then the answer of the M105 sent to settle it.

    Each later M105's ``ok T:`` is taken for the one before it, so one always stays in flight:
    before, the sender tickled every half second for ever and never reported the job done.
    """
    firmware = JudgesEveryLine(damaged=set(), lost_oks={18, 19}, move_time=0.0)  # 19: the M105
    sender, acknowledged, seconds = stream(firmware, 18)
    assert sender.idle and moves_run(firmware) == job(18)
    assert [a.tag for a in acknowledged] == list(range(18))
    assert seconds < 1.5, f"{seconds:.2f} s"


@settings(deadline=None)  # the profile's count: 200 in the suite
@given(
    moves=st.integers(min_value=5, max_value=50),
    damaged=st.sets(st.integers(min_value=1, max_value=50), max_size=4),
    lost_oks=st.sets(st.integers(min_value=1, max_value=50), max_size=3),
    move_time=st.sampled_from([0.0, 0.004, 0.03, 0.15]),
)
def test_every_line_runs_once_in_order_and_the_stream_keeps_moving(moves, damaged, lost_oks, move_time) -> None:
    firmware = JudgesEveryLine(damaged, lost_oks, move_time)
    sender, acknowledged, seconds = stream(firmware, moves)
    assert sender.idle, f"not done after {seconds:.1f} s: {sender.stats}"
    assert moves_run(firmware) == job(moves)
    assert [a.tag for a in acknowledged] == list(range(moves)), "a line acknowledged twice, early or never"
    faults = len(damaged) + len(lost_oks)
    # Running the moves, plus for each fault a quiet moment, a resend burst or an M105's half second;
    # answers lost close together may leave only the stall timeout (5 s for marlin2) to settle them.
    budget = moves * (move_time + 0.01) + 0.7 * faults + 0.1 + (STALL_SECONDS if len(lost_oks) > 1 else 0.0)
    assert seconds <= budget, f"{seconds:.2f} s, budget {budget:.2f} s: {sender.stats}"
