"""The HTTP layer: it only translates requests into farm calls and records into JSON."""
