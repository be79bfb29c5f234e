import math

import pytest

from farmctl.files.analysis import Analysis, Box, GcodeAnalyzer, LayerSource, TimeSource

SQUARE = b"""\
G90
M82
G92 X0 Y0 Z0.2 E0
G1 X10 Y0 E1 F600
G1 X10 Y10 E2
G1 X0 Y10 E3
G1 X0 Y0 E4
"""

# Absolute E with a retraction: 5 + (retract 2, unretract 2) + 5 = 10 mm of filament.
RETRACTION = b"""\
G90
M82
G92 X0 Y0 Z0.2 E0
G1 X10 E5 F600          ; 10 mm at 10 mm/s: 1 s
G1 E3 F1200             ; retract 2 mm at 20 mm/s: 0.1 s
G1 X100 Y100 F6000      ; travel, not part of the printed area
G1 X20 Y0
G1 E5 F1200             ; unretract: 0.1 s
G1 Z0.4 F600            ; 0.2 mm: 0.02 s
G1 X30 E10              ; 10 mm: 1 s
"""
TRAVEL_SECONDS = (math.hypot(90, 100) + math.hypot(80, 100)) / 100


def analyse(data: bytes, step: int | None = None) -> Analysis:
    analyzer = GcodeAnalyzer()
    step = step or len(data)
    for i in range(0, len(data), step):
        analyzer.feed(data[i:i + step])
    return analyzer.result()


def test_square_at_f600_takes_four_seconds():
    result = analyse(SQUARE)
    assert result.computed_print_time == pytest.approx(4.0)
    assert result.estimated_print_time == pytest.approx(4.0)
    assert result.time_source is TimeSource.COMPUTED
    assert result.slicer_print_time is None
    assert result.filament_mm == (4.0,)
    assert result.area == Box(0.0, 10.0, 0.0, 10.0, 0.2, 0.2)
    assert (result.layers, result.layer_source) == (1, LayerSource.Z_HEIGHTS)


def test_retraction_is_not_counted_twice_and_travel_is_not_printed_area():
    result = analyse(RETRACTION)
    assert result.filament_mm == (10.0,)
    assert result.computed_print_time == pytest.approx(1 + 0.1 + TRAVEL_SECONDS + 0.1 + 0.02 + 1, abs=1e-3)
    assert result.area == Box(0.0, 30.0, 0.0, 0.0, 0.2, 0.4)
    assert result.layers == 2


def test_relative_extrusion_two_tools_and_relative_moves():
    gcode = b"""\
G90
M83
G92 X0 Y0 Z0.3 E0
T0
G1 X10 E2 F600
G1 E-1
T1
G1 Y10 E3
G1 E-0.5
T0
G1 E1
G91
M83
G1 X-5 E1
"""
    result = analyse(gcode)
    assert result.filament_mm == (3.0, 2.5)
    assert result.area == Box(0.0, 10.0, 0.0, 10.0, 0.3, 0.3)
    octo = result.to_octoprint()
    assert octo["filament"]["tool1"]["length"] == 2.5
    assert octo["filament"]["tool0"]["volume"] == pytest.approx(3.0 * math.pi * 0.875 ** 2 / 1000, abs=1e-5)


def test_g92_resets_absolute_e_between_parts():
    gcode = b"G92 E0\nG1 X10 E4 F600\nG92 E0\nG1 X20 E3\n"
    assert analyse(gcode).filament_mm == (7.0,)


def test_layers_from_z_heights_ignore_z_hops():
    gcode = b"".join(
        b"G1 Z%.1f F600\nG1 X10 E1\nG1 Z5 F600\nG1 X0\n" % z for z in (0.2, 0.4, 0.6)
    ).replace(b"E1", b"E0.5")
    gcode = b"M83\n" + gcode
    result = analyse(gcode)
    assert (result.layers, result.layer_source) == (3, LayerSource.Z_HEIGHTS)
    assert (result.area.min_z, result.area.max_z) == (0.2, 0.6)


def test_layer_comments_win_over_z_heights():
    gcode = b";LAYER_COUNT:2\n;LAYER:0\nG1 Z0.2 X5 E1 F600\nG1 Z0.25 X6 E2\n;LAYER:1\nG1 Z0.4 X7 E3\n"
    result = analyse(gcode)
    assert (result.layers, result.layer_source) == (2, LayerSource.COMMENTS)
    prusa = b";LAYER_CHANGE\n;Z:0.2\nG1 X5 E1 F600\n;LAYER_CHANGE\n;Z:0.4\nG1 Z0.4\nG1 X1 E2\n"
    assert analyse(prusa).layers == 2


@pytest.mark.parametrize("comment, seconds", [
    (b";TIME:1234\n", 1234.0),
    (b"; estimated printing time (normal mode) = 1h 2m 3s\n", 3723.0),
    (b"; estimated printing time (silent mode) = 2d\n; estimated printing time (normal mode) = 1d 1s\n", 86401.0),
    (b"; model printing time: 5m 2s; total estimated time: 6m 3s\n", 363.0),
])
def test_slicer_estimate_is_preferred(comment, seconds):
    result = analyse(comment + SQUARE)
    assert result.estimated_print_time == seconds
    assert result.slicer_print_time == seconds
    assert result.time_source is TimeSource.SLICER
    assert result.computed_print_time == pytest.approx(4.0)
    assert result.to_octoprint()["estimatedPrintTime"] == seconds


def test_dwell_lowercase_crlf_line_numbers_and_unspaced_words():
    gcode = b"g4 p500\r\nG4 S2\r\nN1 G92 X0 Y0 Z0.2 E0*99\nG1X10Y0E1F600 ; comment\ng1 x10 y10 e2 ;c\n"
    result = analyse(gcode)
    assert result.computed_print_time == pytest.approx(2.5 + 1 + 1)
    assert result.filament_mm == (2.0,)


def test_arc_time_follows_the_arc():
    gcode = b"G92 X0 Y0 Z0.2 E0\nG2 X10 Y0 I5 J0 E1 F600\n"
    result = analyse(gcode)
    assert result.computed_print_time == pytest.approx(5 * math.pi / 10, abs=1e-3)
    assert result.filament_mm == (1.0,)


def test_same_result_fed_a_byte_at_a_time():
    data = b";TIME:99\n" + RETRACTION + b"T1\nG1 X5 E11\n"
    assert analyse(data, 1) == analyse(data)
    assert analyse(data, 7) == analyse(data)


def test_garbage_does_not_raise_or_grow_memory():
    analyzer = GcodeAnalyzer()
    analyzer.feed(b"\x00\xff" * 100_000)  # no newline at all
    analyzer.feed(b"G1 X1.2.3 E1\nG1 Xabc\nT99999999\nG1 X1 E1 F0\n")
    result = analyzer.result()
    assert result.filament_mm == (1.0,)


def test_octoprint_shape_and_round_trip():
    result = analyse(SQUARE)
    octo = result.to_octoprint()
    assert octo == {
        "estimatedPrintTime": 4.0,
        "filament": {"tool0": {"length": 4.0, "volume": pytest.approx(0.00962, abs=1e-5)}},
        "printingArea": {"minX": 0.0, "maxX": 10.0, "minY": 0.0, "maxY": 10.0, "minZ": 0.2, "maxZ": 0.2},
        "dimensions": {"width": 10.0, "depth": 10.0, "height": 0.0},
        "layers": 1,
    }
    assert Analysis.from_dict(result.to_dict()) == result


def test_nothing_extruded():
    result = analyse(b"G28\nG1 X10 F600\n")
    assert result.area is None
    assert result.layers == 0
    assert result.to_octoprint()["printingArea"]["maxX"] == 0.0
