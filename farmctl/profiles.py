"""Firmware profiles: the buffer sizes and quirks of one firmware family, read from firmware_profiles/.

A profile is chosen from the printer's M115 answer unless the user names one; the sender, the
serial link and the simulator all read the same record, so the host's idea of the firmware and
the simulator's behaviour cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path

from farmctl.errors import FarmctlError

PROFILE_DIR = Path(__file__).resolve().parent.parent / "firmware_profiles"
DEFAULT_PROFILE = "marlin2"


class ChecksumWithoutLine(Enum):
    """What the firmware does with an unnumbered line that carries ``*cs`` (a flushed line's tail)."""

    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class FirmwareProfile:
    name: str
    description: str
    baud: int
    rx_buffer: int
    command_slots: int
    planner_blocks: int
    max_line_length: int
    advanced_ok: bool
    ok_after_resend: bool
    checksum_without_line: ChecksumWithoutLine
    keepalive: float
    ping_pong: bool
    history: int
    rx_timeout: float | None = None
    back_pressure: bool = False
    """A native-USB (CDC) port: the board stops taking bytes while its buffers are full instead of
    dropping them, so the host need not keep its unacknowledged bytes within the RX ring."""
    m115_firmware_name: str = ""
    m115_ok_fields: bool = False

    def with_ping_pong(self) -> FirmwareProfile:
        """The same firmware driven strictly one line at a time."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["ping_pong"] = True
        return FirmwareProfile(**values)


_REQUIRED = {f.name for f in fields(FirmwareProfile)} - {"rx_timeout", "back_pressure", "m115_firmware_name", "m115_ok_fields"}


def _from_toml(path: Path) -> FirmwareProfile:
    import tomllib  # only when profiles are read: ``farmctl --help`` imports this module for a default

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise FarmctlError(f"firmware profile {path.name}: {exc}") from exc
    m115 = data.pop("m115", {})
    missing = _REQUIRED - data.keys()
    unknown = data.keys() - {f.name for f in fields(FirmwareProfile)}
    if missing or unknown:
        raise FarmctlError(f"firmware profile {path.name}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    data["checksum_without_line"] = ChecksumWithoutLine(data["checksum_without_line"])
    return FirmwareProfile(
        **data,
        m115_firmware_name=m115.get("firmware_name", ""),
        m115_ok_fields=m115.get("ok_fields", False),
    )


def load_profiles(directory: Path = PROFILE_DIR) -> dict[str, FirmwareProfile]:
    """Every profile in the folder, by name."""
    profiles = {}
    for path in sorted(directory.glob("*.toml")):
        profile = _from_toml(path)
        profiles[profile.name] = profile
    return profiles


def get_profile(name: str) -> FirmwareProfile:
    """The named profile, or a clear error listing the ones that exist."""
    profiles = load_profiles()
    try:
        return profiles[name]
    except KeyError:
        raise FarmctlError(f"unknown firmware profile {name!r}; known: {', '.join(sorted(profiles))}") from None


def match_firmware(firmware_name: str, advanced_ok_seen: bool = False) -> FirmwareProfile:
    """The profile for an M115 FIRMWARE_NAME; Marlin 2.x when nothing matches more closely."""
    candidates = [p for p in load_profiles().values() if p.m115_firmware_name and firmware_name.startswith(p.m115_firmware_name)]
    for profile in candidates:
        if profile.m115_ok_fields == advanced_ok_seen:
            return profile
    return candidates[0] if candidates else get_profile(DEFAULT_PROFILE)
