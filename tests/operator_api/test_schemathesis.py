"""Property-based run of every /api/operator/ and /API/ operation against the OpenAPI
schema, in process, with an operator's API key: whatever schemathesis sends, no 5xx and
answers that match the documented status codes. Chargers are not connected, so commands
end in 404/409 (or 400 for payloads the OCPP schema refuses) without waiting."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.factories import ChargeSessionFactory, ConnectorFactory, PurchaseFactory
from tests.support.clients import make_api_key

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app).include(
    path_regex=r"^/(api/operator|API)/(?!Payments)"
)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    # Called as a bare WSGI app (not through Django's test client), each request would close
    # the connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def operator_headers(db, operator, charger):
    session = ChargeSessionFactory(connector=charger.connectors.get(connector_id=1))
    PurchaseFactory(session__connector=ConnectorFactory(charge_point=charger, connector_id=3))
    assert session.pk
    return {"X-API-Key": make_api_key(operator)}


@schema.parametrize()
@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_the_operator_api_honours_its_schema(case, operator_headers):
    case.call_and_validate(
        headers=operator_headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )
