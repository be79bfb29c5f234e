"""Every firmware reply in the Marlin reference, parsed into the event a host acts on."""

import pytest

from farmctl.protocol.replies import (
    Busy, Capability, Echo, FatalError, FirmwareError, FirmwareInfo, HostAction, LineError, LineErrorKind, Ok,
    Position, Reading, ResendRequest, RxBufferFull, RxTimeout, SdEvent, SdStatus, Start, Temperatures,
    UnknownCommand, Unrecognized, Wait, parse_reply,
)

TEMPS = Temperatures((Reading("T", 210.0, 210.0), Reading("B", 60.0, 60.0)))

CASES = [
    # acknowledgements
    ("ok", [Ok()]),
    ("ok N12 P15 B3", [Ok(12, 15, 3)]),
    ("ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0", [Ok(temperatures=TEMPS)]),
    # resends, all three spellings
    ("Resend: 5", [ResendRequest(5)]),
    ("Resend:5", [ResendRequest(5)]),
    ("rs N5 bad checksum", [ResendRequest(5)]),
    # line errors
    ("Error:Line Number is not Last Line Number+1, Last Line: 4", [LineError(LineErrorKind.LINE_NUMBER, 4)]),
    ("Error:checksum mismatch, Last Line: 4", [LineError(LineErrorKind.CHECKSUM_MISMATCH, 4)]),
    ("Error:No Checksum with line number, Last Line: 4", [LineError(LineErrorKind.NO_CHECKSUM, 4)]),
    ("Error:No Line Number with checksum, Last Line: 4", [LineError(LineErrorKind.NO_LINE_NUMBER, 4)]),
    # keepalives, idle and boot
    ("echo:busy: processing", [Busy("processing")]),
    ("echo:busy: paused for user", [Busy("paused for user")]),
    ("echo:busy: paused for input", [Busy("paused for input")]),
    ("wait", [Wait()]),
    ("start", [Start()]),
    # temperature reports
    (" T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0", [TEMPS]),
    ("T:210.0/210.0 B:60.0/60.0", [TEMPS]),
    (" T:180.00 /210.00 B:60.00 /60.00 @:127 B@:0 W:4", [Temperatures(TEMPS.readings[:0] + (Reading("T", 180.0, 210.0), Reading("B", 60.0, 60.0)), 4.0)]),
    (" T:180.00 /210.00 B:60.00 /60.00 W:?", [Temperatures((Reading("T", 180.0, 210.0), Reading("B", 60.0, 60.0)), None)]),
    ("T0:200.0 /200.0 T1:25.0 /0.0 B:60.0 /60.0 C:30.5 /0.0 P:28.1",
     [Temperatures((Reading("T0", 200.0, 200.0), Reading("T1", 25.0, 0.0), Reading("B", 60.0, 60.0),
                    Reading("C", 30.5, 0.0), Reading("P", 28.1, None)))]),
    # position
    ("X:10.00 Y:20.00 Z:0.30 E:1.50 Count X:800 Y:1600 Z:120", [Position({"X": 10.0, "Y": 20.0, "Z": 0.3, "E": 1.5})]),
    # M115
    ("FIRMWARE_NAME:Marlin 2.1.2.1 (Jul 27 2023 12:00:00) SOURCE_CODE_URL:https://github.com/MarlinFirmware/Marlin "
     "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
     [FirmwareInfo({"FIRMWARE_NAME": "Marlin 2.1.2.1 (Jul 27 2023 12:00:00)",
                    "SOURCE_CODE_URL": "https://github.com/MarlinFirmware/Marlin", "PROTOCOL_VERSION": "1.0",
                    "MACHINE_TYPE": "Ender-3", "EXTRUDER_COUNT": "1", "UUID": "cede2a2f-41a2-4748-9b12-c55c62f367ff"})]),
    ("FIRMWARE_NAME:Prusa-Firmware 3.14.0+8072 based on Marlin SOURCE_CODE_URL:https://github.com/prusa3d/Prusa-Firmware "
     "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:1Cap:AUTOREPORT_TEMP:1",
     [FirmwareInfo({"FIRMWARE_NAME": "Prusa-Firmware 3.14.0+8072 based on Marlin",
                    "SOURCE_CODE_URL": "https://github.com/prusa3d/Prusa-Firmware", "PROTOCOL_VERSION": "1.0",
                    "MACHINE_TYPE": "Prusa i3 MK3S", "EXTRUDER_COUNT": "1"}), Capability("AUTOREPORT_TEMP", True)]),
    ("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", [Ok(), FirmwareInfo({"FIRMWARE_NAME": "Klipper", "FIRMWARE_VERSION": "v0.12.0"})]),
    ("Cap:EMERGENCY_PARSER:1", [Capability("EMERGENCY_PARSER", True)]),
    ("Cap:SDCARD:0", [Capability("SDCARD", False)]),
    # host actions, including prompts and runout
    ("//action:pause", [HostAction("pause", "")]),
    ("//action:paused filament_runout 0", [HostAction("paused", "filament_runout 0")]),
    ("//action:resume", [HostAction("resume", "")]),
    ("//action:cancel", [HostAction("cancel", "")]),
    ("// action:resumed", [HostAction("resumed", "")]),
    ("//action:filament_runout T0", [HostAction("filament_runout", "T0")]),
    ("//action:prompt_begin Filament runout", [HostAction("prompt_begin", "Filament runout")]),
    ("//action:prompt_button Continue", [HostAction("prompt_button", "Continue")]),
    ("//action:prompt_show", [HostAction("prompt_show", "")]),
    ("//action:notification Heating...", [HostAction("notification", "Heating...")]),
    # SD status
    ("SD printing byte 1200/48000", [SdStatus(SdEvent.PRINTING, 1200, 48000)]),
    ("Not SD printing", [SdStatus(SdEvent.NOT_PRINTING)]),
    ("Done printing file", [SdStatus(SdEvent.DONE)]),
    ("Begin file list", [SdStatus(SdEvent.LIST_BEGIN)]),
    ("End file list", [SdStatus(SdEvent.LIST_END)]),
    ("File opened: benchy.gco Size: 123456", [SdStatus(SdEvent.FILE_OPENED, total=123456, name="benchy.gco")]),
    ("File selected", [SdStatus(SdEvent.FILE_SELECTED)]),
    # unknown commands and fatal errors
    ('echo:Unknown command: "G999"', [UnknownCommand("G999")]),
    ("Error:Printer halted. kill() called!", [FatalError("Printer halted. kill() called!")]),
    ("Error:Printer stopped due to errors. Fix the error and use M999 to restart. (Temperature is reset. Set it after restarting)",
     [FatalError("Printer stopped due to errors. Fix the error and use M999 to restart. (Temperature is reset. Set it after restarting)")]),
    ("Error:MAXTEMP triggered", [FatalError("MAXTEMP triggered")]),
    ("Error:Thermal Runaway, system stopped! Heater_ID: 0", [FatalError("Thermal Runaway, system stopped! Heater_ID: 0")]),
    ("Error:Heating failed, system stopped! Heater_ID: bed", [FatalError("Heating failed, system stopped! Heater_ID: bed")]),
    ("!! Move out of range: 300.000 0.000", [FatalError("Move out of range: 300.000 0.000")]),
    ("Error:Probing failed", [FirmwareError("Probing failed")]),
    # Prusa's buffer messages
    ("Full RX Buffer", [RxBufferFull()]),
    ("RX timeout", [RxTimeout()]),
    # everything else
    ("echo:External Reset", [Echo("External Reset")]),
    ("", []),
    ("o\u00ffk", [Unrecognized("o\u00ffk")]),
]


@pytest.mark.parametrize("line, events", CASES, ids=[c[0][:40] or "blank" for c in CASES])
def test_reply_line(line, events):
    assert parse_reply(line) == events
    assert parse_reply((line + "\r\n").encode("latin-1")) == events or not line.isascii()


def test_non_ascii_bytes_are_unrecognized_not_an_exception():
    assert parse_reply(b"\x8bok\xff") == [Unrecognized("\ufffdok\ufffd")]


def test_a_report_with_a_new_target_keeps_the_rest():
    report = Temperatures((Reading("T", 24.5, 0.0), Reading("B", 23.0, 0.0)), countdown=None)
    assert report.with_target("B", 60.0) == Temperatures((Reading("T", 24.5, 0.0), Reading("B", 23.0, 60.0)))
