"""What each simulated firmware says about itself: boot banner, M115 line and capabilities.

Kept apart from the behaviour so a test can assert the exact texts a host must recognise
(the Prusa MACHINE_TYPE with spaces, Marlin 1's missing caps) without reading the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from farmctl.profiles import FirmwareProfile

UUID = "cede2a2f-41a2-4748-9b12-c55c62f367ff"


class Family(Enum):
    MARLIN2 = "marlin2"
    MARLIN1 = "marlin1"
    PRUSA = "prusa"


def family_of(profile: FirmwareProfile) -> Family:
    """Which firmware a profile describes, from the M115 name it matches."""
    if profile.m115_firmware_name.startswith("Prusa"):
        return Family.PRUSA
    if profile.m115_firmware_name.startswith("Marlin 1"):
        return Family.MARLIN1
    return Family.MARLIN2


_MARLIN2_CAPS = {
    "SERIAL_XON_XOFF": False, "BINARY_FILE_TRANSFER": False, "EEPROM": True, "VOLUMETRIC": True,
    "AUTOREPORT_POS": False, "AUTOREPORT_TEMP": True, "PROGRESS": False, "PRINT_JOB": True,
    "AUTOLEVEL": False, "RUNOUT": False, "Z_PROBE": False, "LEVELING_DATA": False,
    "BUILD_PERCENT": False, "SOFTWARE_POWER": False, "TOGGLE_LIGHTS": False,
    "CASE_LIGHT_BRIGHTNESS": False, "EMERGENCY_PARSER": True, "HOST_ACTION_COMMANDS": True,
    "PROMPT_SUPPORT": True, "SDCARD": False, "REPEAT": False, "SD_WRITE": False,
    "AUTOREPORT_SD_STATUS": False, "LONG_FILENAME": False, "EXTENDED_M20": False,
    "THERMAL_PROTECTION": True, "MOTION_MODES": False, "ARCS": True, "BABYSTEPPING": False,
    "CHAMBER_TEMPERATURE": False, "COOLER_TEMPERATURE": False, "MEATPACK": False,
}
_MARLIN1_CAPS = {
    "SERIAL_XON_XOFF": False, "EEPROM": True, "VOLUMETRIC": True, "AUTOREPORT_TEMP": True,
    "PROGRESS": False, "PRINT_JOB": True, "AUTOLEVEL": False, "Z_PROBE": False,
    "LEVELING_DATA": False, "BUILD_PERCENT": False, "SOFTWARE_POWER": False,
    "TOGGLE_LIGHTS": False, "CASE_LIGHT_BRIGHTNESS": False, "EMERGENCY_PARSER": False,
    "AUTOREPORT_SD_STATUS": False, "THERMAL_PROTECTION": True,
}
_PRUSA_CAPS = {
    "AUTOREPORT_TEMP": True, "AUTOREPORT_FANS": True, "AUTOREPORT_POSITION": True,
    "EXTENDED_M20": True, "PRUSA_MMU2": True,
}


@dataclass(frozen=True, slots=True)
class Identity:
    """The texts one firmware prints about itself."""

    family: Family
    version: str
    firmware_name: str
    machine_type: str
    caps: Mapping[str, bool]

    def has(self, cap: str) -> bool:
        return bool(self.caps.get(cap, False))

    def m115(self) -> list[str]:
        if self.family is Family.PRUSA:
            url = "FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware"
        else:
            url = "SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin"
        head = (f"FIRMWARE_NAME:{self.firmware_name} {url} PROTOCOL_VERSION:1.0 "
                f"MACHINE_TYPE:{self.machine_type} EXTRUDER_COUNT:1 UUID:{UUID}")
        return [head] + [f"Cap:{name}:{int(on)}" for name, on in self.caps.items()]

    def boot(self) -> list[str]:
        if self.family is Family.PRUSA:
            return ["start", "echo:External Reset", f"Marlin {self.version}",
                    "echo: Last Updated: Sep 30 2024 | Author: (none, default config)",
                    "echo: Free Memory: 1652  PlannerBufferBytes: 1392"]
        return ["start", "echo:External Reset", f"Marlin {self.version}",
                "echo: Last Updated: 2023-07-27 | Author: (none, default config)",
                "echo:Compiled: Jul 27 2023",
                "echo: Free Memory: 2341  PlannerBufferBytes: 1232"]


_SD_CAPS = {
    Family.MARLIN2: {"SDCARD": True, "SD_WRITE": True, "AUTOREPORT_SD_STATUS": True, "LONG_FILENAME": True,
                     "EXTENDED_M20": True},
    Family.MARLIN1: {"AUTOREPORT_SD_STATUS": True},  # 1.1.x names no SDCARD cap: a host probes with M21
    Family.PRUSA: {},  # Prusa's M115 has no SD caps either; its M20 takes L (EXTENDED_M20 above)
}


def identity_for(profile: FirmwareProfile, caps: Mapping[str, bool] | None = None, *,
                 sd_support: bool = False) -> Identity:
    """The identity a profile implies, with ``caps`` overriding (or adding) capability flags;
    ``sd_support``: built with SDSUPPORT (an SD card slot), which adds the family's SD caps."""
    family = family_of(profile)
    if family is Family.PRUSA:
        version, defaults = "3.14.0+8072", _PRUSA_CAPS
        name, machine = f"Prusa-Firmware {version} based on Marlin", "Prusa i3 MK3S"
    elif family is Family.MARLIN1:
        version, defaults = "1.1.9", _MARLIN1_CAPS
        name, machine = "Marlin 1.1.9 (Github)", "3D Printer"
    else:
        version, defaults = "2.1.2.1", _MARLIN2_CAPS
        name, machine = "Marlin 2.1.2.1 (Jul 27 2023 12:00:00)", "3D Printer"
    merged = dict(defaults)
    if sd_support:
        merged.update(_SD_CAPS[family])
    merged.update(caps or {})
    return Identity(family, version, name, machine, merged)
