"""One printer on one port: its states, the commands and prints it runs, its SD card's prints.

``farmctl.printer.printer`` holds the printer itself; the records and states it shares with the
farm are re-exported here, so callers import them from ``farmctl.printer``."""

from farmctl.job import JobProgress
from farmctl.printer.printer import Printer
from farmctl.printer.prompts import Prompt
from farmctl.printer.states import JobOutcome, JobResult, PrinterState, PrintEvent

__all__ = ["JobOutcome", "JobProgress", "JobResult", "PrintEvent", "Printer", "PrinterState", "Prompt"]
