"""The terminal record: whole reads and writes in, lines out, each reader seeing only what is new."""

from farmctl.terminal import Terminal


def test_lines_in_wire_order_with_direction():
    terminal = Terminal()
    terminal.sent(b"N1 G28*18\nN2 M105*37\n")
    terminal.received(b"ok\nok T:20.0 /0.0\n")
    lines = terminal.since(0)
    assert lines.logs == ["Send: N1 G28*18", "Send: N2 M105*37", "Recv: ok", "Recv: ok T:20.0 /0.0"]
    assert lines.messages == ["ok", "ok T:20.0 /0.0"]
    assert terminal.since(lines.seq).logs == []


def test_a_read_that_ends_inside_a_line_waits_for_the_rest():
    terminal = Terminal()
    terminal.received(b"ok\nok T:20")
    assert terminal.since(0).messages == ["ok"]
    seq = terminal.since(0).seq
    terminal.received(b".0 /0.0\n")
    assert terminal.since(seq).messages == ["ok T:20.0 /0.0"]


def test_old_chunks_fall_off_and_a_reader_gets_at_most_its_limit():
    terminal = Terminal(chunks=3)
    for n in range(10):
        terminal.sent(b"N%d M105*0\n" % n)
    assert terminal.since(0).logs == ["Send: N7 M105*0", "Send: N8 M105*0", "Send: N9 M105*0"]
    assert terminal.since(0, limit=1).logs == ["Send: N9 M105*0"]
