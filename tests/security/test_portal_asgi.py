"""Portal pages keep Django's ASGI scope (issue 16, finding 8): the portal's operator scope
used to be assigned to request.scope, so under ASGI with SECURE_HSTS_SECONDS set /chargers/
and /sessions/ answered 500, and a portal 404 became a 500."""

from __future__ import annotations

import pytest

from tests.factories import StaffFactory
from tests.portal.conftest import seed_operator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(db):
    operator = seed_operator("Alpha")[0]
    return StaffFactory(operator=operator)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/chargers/",
        "/sessions/",
        "/journal/",
        "/map/",
        "/drivers/",
        "/purchases/",
        "/payments/",
        "/wallets/",
        "/tariffs/",
    ],
)
async def test_portal_pages_render_over_asgi_with_hsts(async_client, staff, settings, url):
    settings.SECURE_HSTS_SECONDS = 3600
    await async_client.aforce_login(staff)
    response = await async_client.get(url, secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=3600")


@pytest.mark.parametrize("url", ["/chargers/NOPE/", "/sessions/999999/"])
async def test_portal_detail_pages_of_unknown_objects_answer_404_over_asgi(async_client, staff, url):
    await async_client.aforce_login(staff)
    response = await async_client.get(url)
    assert response.status_code == 404
