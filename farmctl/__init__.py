"""farmctl: a print-farm controller that streams G-code to Marlin printers itself."""

__version__ = "0.1.0"
