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


# Retry-After of an answer given while the database is unreachable.
DATABASE_RETRY_AFTER_S = 5


def server_error(request):
    """handler500: an uncaught error that is the database being unreachable (an outage, a
    fail-over, an exhausted pool) is a 503 with a reason and Retry-After, which clients and
    load balancers treat as "try again shortly"; any other error stays Django's 500."""
    import sys

    from django.http import JsonResponse
    from django.views.defaults import server_error as django_server_error

    from accounts.outages import database_outage, is_database_unavailable

    error = sys.exc_info()[1]
    if error is not None and is_database_unavailable(error):
        database_outage.failed(error)
        response = JsonResponse(
            {"detail": "The database is unavailable; please try again shortly.", "code": "database_unavailable"},
            status=503,
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
    return django_server_error(request)
