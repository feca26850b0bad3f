"""The HTTP status of each domain error kind (accounts.errors): the one table the HTTP
interfaces (the driver API, the operator APIs, the payment providers' webhooks) answer
with. Each interface keeps its own error body; the status of a kind is the same everywhere."""

from __future__ import annotations

from accounts.errors import (
    Conflict,
    DomainError,
    InvalidRequest,
    NotAllowed,
    NotFound,
    PaymentRequired,
    RateLimited,
    Unavailable,
    UpstreamFailed,
    UpstreamTimeout,
    kind_of,
)

HTTP_STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    InvalidRequest: 400,
    PaymentRequired: 402,
    NotAllowed: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    UpstreamFailed: 502,
    Unavailable: 503,
    UpstreamTimeout: 504,
}


def http_status(error: DomainError) -> int:
    return HTTP_STATUS[kind_of(error)]
