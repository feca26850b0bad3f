"""Property-based run of every /api/v1/ operation against its OpenAPI schema, in process,
authenticated as a test driver: whatever schemathesis sends, no 5xx and answers that match
the documented schemas."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import AccessToken
from accounts.services import access_token_issue
from tests.factories import DriverFactory

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app).include(path_regex=r"^/api/v1/")


@pytest.fixture
def keep_test_connection():
    # The WSGI handler closes "old" connections around each request, which would close the
    # test's transaction; Django's own test client switches this off the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def driver_headers(db, settings, bus, keep_test_connection):
    # Rate limits would turn later examples into 429s; they are tested on their own.
    settings.DRIVERS_OTP_RATE_PER_PHONE = settings.DRIVERS_OTP_RATE_PER_IP = "100000/60"
    settings.DRIVERS_OTP_RATE_PER_PHONE_AND_IP = "100000/60"
    settings.DRIVERS_OTP_CHECK_RATE_PER_IP = "100000/60"
    settings.DRIVERS_FINISH_WAIT_SECONDS = 0
    token = access_token_issue(user=DriverFactory(), kind=AccessToken.Kind.DRIVER)
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_the_driver_api_honours_its_schema(case, driver_headers):
    case.call_and_validate(
        headers=driver_headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
