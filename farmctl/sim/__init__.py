"""A faithful fake Marlin printer on a pseudo-terminal, for tests, benchmarks and ``farmctl sim``.

Layers, innermost first: ``parser`` (line checks), ``firmware`` (Marlin's buffers and replies,
no I/O, no clock), ``wire`` (baud timing, latency, faults) and ``printer`` (the pty and its
thread).  ``process`` runs a printer in a child process so a benchmark can measure the host
alone.
"""

from farmctl.sim.firmware import MarlinFirmware
from farmctl.sim.printer import Faults, SimulatedPrinter
from farmctl.sim.records import Executed, Stats
from farmctl.sim.sdcard import SdCard

__all__ = ["Executed", "Faults", "MarlinFirmware", "SdCard", "SimulatedPrinter", "Stats"]
