"""Serial workers: the farm's ports served from processes of their own, so serial work uses several cores."""

from farmctl.workers.pool import SerialWorkers, default_count

__all__ = ["SerialWorkers", "default_count"]
