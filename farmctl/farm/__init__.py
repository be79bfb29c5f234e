"""The farm: every printer of one process, the queue that feeds them, and its configuration."""
