"""The one error type users see: a message and, for HTTP, the status it maps to."""


class FarmctlError(Exception):
    """An expected failure with a message meant for a person (CLI line or HTTP {"error": ...})."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
