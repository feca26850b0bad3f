"""Numbers too large for a database integer are refused at the edge, never a 500."""

import pytest

from accounts.models import ApiKey
from accounts.secrets import token_hash
from tests.factories import OperatorFactory

HUGE = "9" * 25
pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key_headers():
    ApiKey.objects.create(operator=OperatorFactory(), name="k", prefix="k", key_hash=token_hash("bounds-key"))
    return {"HTTP_X_API_KEY": "bounds-key"}


@pytest.mark.parametrize(
    "path", [f"/api/operator/sites/{HUGE}/", f"/api/operator/sessions/{HUGE}/", f"/api/operator/purchases/{HUGE}/"]
)
def test_an_oversized_id_in_a_path_is_not_found(client, api_key_headers, path):
    assert client.get(path, **api_key_headers).status_code == 404


@pytest.mark.parametrize("query", [f"site={HUGE}", f"site=-{HUGE}", "site=0"])
def test_an_oversized_id_in_a_filter_is_a_bad_request(client, api_key_headers, query):
    response = client.get(f"/api/operator/charge-points/?{query}", **api_key_headers)
    assert response.status_code == 400
    assert "site" in response.content.decode()


def test_the_largest_database_id_still_routes(client, api_key_headers):
    assert client.get("/api/operator/sites/999999999999999999/", **api_key_headers).status_code == 404
