"""8.3 names, as Marlin's SD card code (FAT) addresses files: ``my cube v2.gcode`` -> ``MYCUBE~1.GCO``."""

from __future__ import annotations

import re


_SHORT = re.compile(r"^[A-Z0-9~_-]{1,8}(?:\.[A-Z0-9]{1,3})?$")


def short_name(long_name: str, taken: set[str]) -> str:
    """The 8.3 alias a file of this name gets on a card that already holds ``taken``."""
    if _SHORT.match(long_name) and long_name not in taken:
        return long_name
    stem, dot, ext = long_name.rpartition(".")
    if not dot:
        stem, ext = long_name, ""
    clean = re.sub(r"[^A-Z0-9]", "", stem.upper())
    clean_ext = re.sub(r"[^A-Z0-9]", "", ext.upper())[:3]
    if 0 < len(clean) <= 8 and clean == stem.upper() and len(clean_ext) == len(ext):
        candidate = f"{clean}.{clean_ext}" if clean_ext else clean
        if candidate not in taken:
            return candidate
    n = 1
    while True:
        tail = f"~{n}"
        candidate = f"{(clean or 'FILE')[:8 - len(tail)]}{tail}" + (f".{clean_ext}" if clean_ext else "")
        if candidate not in taken:
            return candidate
        n += 1
