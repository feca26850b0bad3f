"""The HTTP status each domain error kind answers with, as every HTTP interface promises it
(config/http_errors.py): one list the interfaces' error tests share."""

from accounts.errors import (
    Conflict,
    InvalidRequest,
    NotAllowed,
    NotFound,
    PaymentRequired,
    RateLimited,
    Unavailable,
    UpstreamFailed,
    UpstreamTimeout,
)

EXPECTED_STATUS = [
    (InvalidRequest, 400),
    (PaymentRequired, 402),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (UpstreamFailed, 502),
    (Unavailable, 503),
    (UpstreamTimeout, 504),
]
