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
    assert gcode.is_emergency("M876 S1")  # a prompt's answer jumps the queue
    assert not gcode.is_emergency("M876 P1")  # telling the firmware the host shows prompts does not
    assert not gcode.is_emergency("G1 X1")
    assert gcode.command_code("g1x10") == "G1"


def test_host_command():
    assert gcode.host_command("@pause") == gcode.HostCommand("pause", "")
    assert gcode.host_command("G1 X1") is None


def test_z_height_follows_absolute_relative_homing_and_g92():
    z = gcode.ZHeight()
    seen = []
    for command in ["G1 X5 Y5", "G28", "G1 Z0.2 F300", "G1 X10 Y10 E1", "G91", "G1 Z5", "G90", "G1 Z0.4",
                    "G92 Z0", "M117 Zebra", "G28 X Y", "g1 z1.5"]:
        z.follow(command)
        seen.append(z.z)
    assert seen == [None, 0.0, 0.2, 0.2, 0.2, 5.2, 5.2, 0.4, 0.0, 0.0, 0.0, 1.5]


@pytest.mark.parametrize("command, offsets, sent", [
    ("M104 S200", {"tool0": 5}, "M104 S205"),
    ("M109 T1 S210.5", {"tool1": -5.5}, "M109 T1 S205"),
    ("M109 T1 S210", {"tool0": 10}, "M109 T1 S210"),  # another tool's offset
    ("M140 S0", {"bed": 5}, "M140 S0"),  # off stays off
    ("M190 S60", {"bed": 5}, "M190 S65"),
    ("M104 S10", {"tool0": -20}, "M104 S0"),
    ("G1 X1 S3", {"bed": 5, "tool0": 5}, "G1 X1 S3"),
    ("M104 S200", {}, "M104 S200"),
])
def test_temperature_offsets_shift_heater_targets(command, offsets, sent):
    assert gcode.with_temperature_offset(command, offsets) == sent


def test_check_length_is_exact_at_the_limit():
    longest = "M117 " + "x" * (gcode.MAX_LINE_LENGTH - len("N10000000 M117 *255"))
    for command in (longest, longest[:-1]):
        gcode.check_length(command)  # fits whatever its checksum
    with pytest.raises(gcode.GcodeError):
        gcode.check_length(longest + "xx")


@pytest.mark.parametrize("command, target", [
    ("M104 S210", ("tool0", 210.0)),
    ("M109 T1 R190.5", ("tool1", 190.5)),
    ("M140 S0", ("bed", 0.0)),
    ("M190 S60", ("bed", 60.0)),
    ("M104 T1", None),  # no temperature: nothing changes
    ("M105", None),
    ("G1 X1 S3", None),
])
def test_heater_target_names_the_heater_a_command_sets(command, target):
    assert gcode.heater_target(command) == target
