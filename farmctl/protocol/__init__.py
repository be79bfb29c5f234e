"""The Marlin host protocol with no I/O: bytes and commands in, events and bytes out, time passed in."""
