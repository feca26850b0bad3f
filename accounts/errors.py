"""The error every driver-facing service raises: a message for people, a code for apps."""
from __future__ import annotations

from config.validation import parse_database_id


class ServiceError(Exception):
    """A request we refuse, with the HTTP status the API answers it with."""

    def __init__(self, message: str, *, code: str = "invalid", status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class NotFound(ServiceError):
    def __init__(self, message: str):
        super().__init__(message, code="not_found", status=404)


# The project's one id parser (config.validation), under the name the driver services use.
parse_id = parse_database_id
