"""A faithful fake Marlin printer on a pseudo-terminal, for tests, benchmarks and ``farmctl sim``.

Layers, innermost first: ``parser`` (line checks), ``firmware`` (Marlin's buffers and replies,
no I/O, no clock), ``wire`` (baud timing, latency, faults) and ``printer`` (the pty and its
thread).  ``process`` runs a printer in a child process so a benchmark can measure the host
alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmctl.lazy import lazy_exports

if TYPE_CHECKING:
    from farmctl.sim.firmware import MarlinFirmware
    from farmctl.sim.printer import Delivery, Faults, SimulatedPrinter
    from farmctl.sim.records import Executed, Stats
    from farmctl.sim.sdcard import SdCard

__all__ = ["Delivery", "Executed", "Faults", "MarlinFirmware", "SdCard", "SimulatedPrinter", "Stats"]
__getattr__ = lazy_exports(__name__, {
    "MarlinFirmware": "farmctl.sim.firmware", "Delivery": "farmctl.sim.printer", "Faults": "farmctl.sim.printer",
    "SimulatedPrinter": "farmctl.sim.printer", "Executed": "farmctl.sim.records", "Stats": "farmctl.sim.records",
    "SdCard": "farmctl.sim.sdcard",
})
