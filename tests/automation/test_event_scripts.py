"""Event hooks: which scripts run, what G-code they become, and what simulate reports."""

import pytest

from farmctl.automation import Event, ExpressionError, RunResult, render, run_event
from farmctl.errors import FarmctlError

SYMBOLS = {
    "current": {"path": "part.gcode", "materials": ["PLA"], "bed_temp": 55.0, "state": "printing"},
    "external": {"t": 60},
    "metadata": {"obico": False},
}


@pytest.mark.parametrize("script, result, gcode", [
    ("M190 S40", True, "M190 S40"),
    ("M190 S40", False, None),
    ("M190 S40", None, None),
    ("M190 S{temp}", {"temp": 60}, "M190 S60"),
    ("M190 S{temp:.0f}\nM104 S{hotend}", {"temp": 59.6, "hotend": 200}, "M190 S60\nM104 S200"),
    ("M117 {{literal}} {msg}", {"msg": "done", "unused": 1}, "M117 {literal} done"),
    ("M117 {{x}}", True, "M117 {x}"),
    ("", True, ""),
])
def test_render_runs_skips_or_fills(script, result, gcode):
    assert render(script, result) == gcode


@pytest.mark.parametrize("script, result, message", [
    ("M190 S{temp}", True, "script line 1: placeholder {temp} has no value (fill it by returning a dict"),
    ("G28\nM190 S{temp}", {"t": 1}, "script line 2: placeholder {temp} has no value (the preprocessor gave only t)"),
    ("M117 {a.__class__}", {"a": 1}, "'{a.__class__}' is not a placeholder"),
    ("M117 {a[0]}", {"a": [1]}, "'{a[0]}' is not a placeholder"),
    ("M117 {0}", {"a": 1}, "'{0}' is not a placeholder"),
    ("M117 {}", {"a": 1}, "'{}' is not a placeholder"),
    ("M117 {a!r}", {"a": 1}, "'{a!r}' is not a placeholder"),
    ("M117 {a:>999999999}", {"a": 1}, "format spec '>999999999' in {a:>999999999} is not allowed"),
    ("M117 {a:.1f}", {"a": "text"}, "cannot format {a:.1f} with 'text'"),
    ("M117 }", True, "'}' is not a placeholder"),
    ("G28", 1, "must give True, False, None or a dict, not int"),
    ("G28", "yes", "must give True, False, None or a dict, not str"),
])
def test_render_refuses_what_would_send_broken_gcode(script, result, message):
    with pytest.raises(ExpressionError) as caught:
        render(script, result)
    assert message in caught.value.message


@pytest.mark.parametrize("event, value, display", [
    (Event.ACTIVATE, "continuousprint_activate", "Queue Activated"),
    (Event.PRINT_START, "continuousprint_start_print", "Print Start"),
    (Event.PRINT_SUCCESS, "continuousprint_success", "Print Success"),
    (Event.PRINT_CANCEL, "continuousprint_cancel", "Print Cancel"),
    (Event.COOLDOWN, "continuousprint_cooldown", "Bed Cooldown"),
    (Event.FINISH, "continuousprint_finish", "Queue Finished"),
    (Event.AWAITING_MATERIAL, "continuousprint_awaiting_material", "Awaiting Material"),
    (Event.DEACTIVATE, "continuousprint_deactivate", "Queue Deactivated"),
])
def test_events_carry_plugin_names_and_display_names(event, value, display):
    assert Event.named(value) is event
    assert event.value == value and event.display_name == display


def test_unknown_event_name_is_a_400():
    with pytest.raises(FarmctlError, match="unknown event 'continuousprint_nope'") as caught:
        Event.named("continuousprint_nope")
    assert caught.value.status == 400


RUNS = [
    ("no preprocessor runs the script", [("@pause", None), ("G28", "  ")], "@pause\nG28"),
    ("true, false and None", [("G28", "True"), ("M84", "False"), ("M18", "None")], "G28"),
    ("gate on bed temperature", [("M190 S30", 'current["bed_temp"] > 40'), ("M84", 'current["bed_temp"] > 90')],
     "M190 S30"),
    ("external fills a placeholder", [("M190 S{temp}", '{"temp": external["t"]}')], "M190 S60"),
    ("metadata flag skips", [("M117 obico", 'metadata.get("obico", False)'), ("G28", None)], "G28"),
    ("names carry between hooks", [("G28", "hot = current['bed_temp'] > 40\nhot"), ("M84", "not hot")], "G28"),
    ("nothing hooked", [], ""),
]


@pytest.mark.parametrize("name, hooks, gcode", RUNS, ids=[run[0] for run in RUNS])
def test_run_event_joins_the_scripts_whose_preprocessor_allows_them(name, hooks, gcode):
    result = run_event(Event.PRINT_SUCCESS, hooks, SYMBOLS)
    assert result == RunResult(gcode=gcode, stdout="", stderr="", symtable_diff=result.symtable_diff)
    assert not result.failed


def test_simulate_reports_stdout_and_changed_names_as_the_plugin_does():
    hooks = [("M190 S{temp}", 'temp = external["t"] - 5\nprint("cooling to", temp)\n{"temp": temp}'),
             ("G28", 'current = "shadowed"\nTrue')]
    result = run_event("continuousprint_cooldown", hooks, SYMBOLS)
    assert result.as_dict() == {
        "gcode": "M190 S55\nG28",
        "symtable_diff": {"temp": "55", "current": "'shadowed'"},
        "stdout": "cooling to 55\n",
        "stderr": "",
    }


@pytest.mark.parametrize("hooks, stderr", [
    ([("G28", "True"), ("M84", "import os"), ("M18", "True")],
     "Print Success, script 2: line 1: import is not allowed\n"),
    ([("M190 S{temp}", "True")], "Print Success, script 1: script line 1: placeholder {temp} has no value"),
    ([("G28", 'x = 1\ncurrent["nope"]')], "Print Success, script 1: line 2: key 'nope' not found\n"),
    ([("G28", '"a" * 10**9')], "Print Success, script 1: line 1: a value of 1000000000 characters"),
    ([("M117 {x}", 'big = ["a" * 15000] * 20000\n{"x": big}')], "Print Success, script 1: script line 1: the value for {x} is over"),
])
def test_a_failing_hook_pauses_instead_of_running_part_of_the_event(hooks, stderr):
    result = run_event(Event.PRINT_SUCCESS, hooks, SYMBOLS)
    assert result.failed
    assert result.gcode == "@pause"
    assert result.stderr.startswith(stderr)


def test_large_assigned_values_are_reported_shortened():
    result = run_event(Event.PRINT_START, [("G28", 'big = ["a" * 15000] * 20000\nTrue')], SYMBOLS)
    assert result.gcode == "G28"
    assert len(result.symtable_diff["big"]) <= 200


def test_symbols_are_never_modified():
    symbols = {"current": {"materials": ["PLA"]}, "external": {}, "metadata": {}}
    run_event(Event.PRINT_START, [("G28", 'm = current["materials"]\nm += ["PETG"]\nlen(m) == 2')], symbols)
    assert symbols == {"current": {"materials": ["PLA"]}, "external": {}, "metadata": {}}
