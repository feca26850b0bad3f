"""One table of HTTP statuses for the domain error kinds, used by every HTTP interface."""

from accounts.errors import KINDS, DomainError
from config.http_errors import HTTP_STATUS, http_status
from tests.support.errors import EXPECTED_STATUS


def test_every_error_kind_has_a_status():
    assert set(HTTP_STATUS) == {DomainError, *KINDS}
    assert HTTP_STATUS[DomainError] == 400


def test_each_kind_has_the_status_the_interfaces_promise():
    for kind, status in EXPECTED_STATUS:
        assert http_status(kind("x")) == status, kind
