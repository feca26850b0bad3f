"""The domain's error vocabulary: what went wrong, never how an interface answers it.

Every service raises one of the kinds below with a stable `code` for apps and a `message`
for people. The kind says what happened (the input is wrong, the thing is missing, the
state forbids it, a charger or provider failed); each interface maps kinds to its own
answer (an HTTP status, a page) once, in its exception handler.
"""

from __future__ import annotations

from config.validation import parse_database_id


class DomainError(Exception):
    """A request we refuse or could not carry out."""

    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        # Seconds after which trying again may succeed (a rate limit's window).
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class InvalidRequest(DomainError):
    """The input itself is wrong: a malformed phone number, an unknown option, a bad amount."""


class NotAllowed(DomainError):
    """The caller may not do this: a disabled account, a blocked charge tag."""


class NotFound(DomainError):
    """No such thing, or not the caller's (ids cannot be probed)."""

    default_code = "not_found"


class Conflict(DomainError):
    """The current state forbids it: already paid, already charging, charger busy."""


class PaymentRequired(DomainError):
    """Money has to come first: too little in the wallet, a payment not authorised yet."""


class RateLimited(DomainError):
    """Too many attempts; `retry_after` says when to try again."""

    default_code = "rate_limited"


class Unavailable(DomainError):
    """Not available right now or not set up here: a feature not configured, a charger offline."""


class UpstreamFailed(DomainError):
    """A party we depend on failed: the SMS gateway, a payment provider, a charger's error."""


class UpstreamTimeout(DomainError):
    """A party we depend on did not answer in time (a charger)."""


KINDS: tuple[type[DomainError], ...] = (
    InvalidRequest,
    NotAllowed,
    NotFound,
    Conflict,
    PaymentRequired,
    RateLimited,
    Unavailable,
    UpstreamFailed,
    UpstreamTimeout,
)


def kind_of(error: DomainError) -> type[DomainError]:
    """The kind an error belongs to (a finer subclass maps like its kind); DomainError itself
    when it was raised without one."""
    return next((cls for cls in type(error).__mro__ if cls in KINDS), DomainError)


# The project's one id parser (config.validation), under the name the driver services use.
parse_id = parse_database_id
