import pytest

from farmctl.protocol import gcode


def test_handshake_line_matches_the_one_every_host_sends():
    assert gcode.encode(0, "M110 N0") == b"N0 M110 N0*125\n"


@pytest.mark.parametrize("text, cleaned", [
    ("G1 X10 Y20 ; move", "G1 X10 Y20"),
    ("  M104 S200  ", "M104 S200"),
    ("; only a comment", ""),
    ("", ""),
    ("G1 (paren comment) X5", "G1  X5"),
])
def test_comments_and_blanks_are_stripped(text, cleaned):
    assert gcode.clean(text) == cleaned


@pytest.mark.parametrize("text", ["G1 X1*12", "M117 caf\u00e9", "M117 a\\b", "G1\tX1"])
def test_characters_marlin_would_mangle_are_rejected(text):
    with pytest.raises(gcode.GcodeError):
        gcode.clean(text, 7)


def test_too_long_line_names_its_length():
    with pytest.raises(gcode.GcodeError, match="characters"):
        gcode.encode(12345, "M117 " + "x" * 90)


def test_long_running_and_emergency_commands():
    assert gcode.is_long_running("G28 X")
    assert gcode.is_long_running("M109 S200")
    assert not gcode.is_long_running("G1 X1")
    assert gcode.is_emergency("M112")
    assert gcode.command_code("g1x10") == "G1"


def test_host_command():
    assert gcode.host_command("@pause") == gcode.HostCommand("pause", "")
    assert gcode.host_command("G1 X1") is None
