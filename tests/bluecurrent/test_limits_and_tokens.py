"""Request limit, one connection per token, revocation, and the token page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from bluecurrent_api import Client
from bluecurrent_api.exceptions import InvalidApiToken, RequestLimitReached, WebsocketError
from django.conf import settings as django_settings

from accounts.models import AccessToken
from bluecurrent import limits, tokens
from tests.bluecurrent.frames import Live, by_object
from tests.factories import DriverFactory

E2E = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _token_id(raw: str) -> int:
    return tokens.api_token_check(raw=raw).pk


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_over_the_daily_limit_the_client_raises_request_limit_reached(haserver, home):
    token_id = await sync_to_async(_token_id)(home.api_token)
    await sync_to_async(limits.request_count_set)(
        api_token_id=token_id, count=django_settings.BLUECURRENT_DAILY_REQUEST_LIMIT
    )
    with pytest.raises(RequestLimitReached):
        await Client().validate_api_token(home.api_token)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_reaching_the_limit_on_a_long_connection_closes_it_with_4001(haserver, home):
    client = Client()
    await client.validate_api_token(home.api_token)
    token_id = await sync_to_async(_token_id)(home.api_token)
    await sync_to_async(limits.request_count_set)(
        api_token_id=token_id, count=django_settings.BLUECURRENT_DAILY_REQUEST_LIMIT
    )
    live = Live(client)
    with pytest.raises(RequestLimitReached):
        await live.start()
        await live.next(by_object("CHARGE_POINTS"), timeout=5)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_a_second_connection_for_the_same_token_is_refused(haserver, home, live_client):
    second = Client()
    await second.validate_api_token(home.api_token)
    other = Live(second)
    with pytest.raises(WebsocketError, match="Already connected"):
        await other.start()
        await other.next(timeout=5)
    # The first connection still works.
    await live_client.client.get_charge_points()
    await live_client.next(by_object("CHARGE_POINTS"))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_a_revoked_token_no_longer_validates(haserver, home):
    token_id = await sync_to_async(_token_id)(home.api_token)
    await sync_to_async(tokens.api_token_revoke)(user=home.driver, token_id=token_id)
    with pytest.raises(InvalidApiToken):
        await Client().validate_api_token(home.api_token)


def test_the_counter_resets_at_midnight_amsterdam(settings):
    settings.BLUECURRENT_DAILY_REQUEST_LIMIT = 2
    before = datetime(2026, 3, 10, 22, 59, tzinfo=UTC)  # 23:59 in Amsterdam
    after = datetime(2026, 3, 10, 23, 0, 30, tzinfo=UTC)  # 00:00:30 the next day
    token_id = 987654321
    assert limits.request_count_hit(api_token_id=token_id, now=before)
    assert limits.request_count_hit(api_token_id=token_id, now=before)
    assert not limits.request_count_hit(api_token_id=token_id, now=before)
    assert limits.request_count_hit(api_token_id=token_id, now=after)
    assert limits.seconds_until_reset(before) == 60


@pytest.mark.django_db
def test_the_token_page_creates_and_revokes_tokens(client):
    driver = DriverFactory()
    assert client.get("/haserver/tokens/").status_code == 302  # login required
    client.force_login(driver)
    page = client.post("/haserver/tokens/", {"action": "create", "name": "HA"})
    assert page.status_code == 200 and b"new-token" in page.content
    token = AccessToken.objects.get(user=driver, kind="home_api")
    assert token.name == "HA" and token.revoked_at is None
    client.post("/haserver/tokens/", {"action": "revoke", "token_id": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_the_token_page_needs_a_csrf_token():
    from django.test import Client as DjangoClient

    driver = DriverFactory()
    client = DjangoClient(enforce_csrf_checks=True)
    client.force_login(driver)
    assert client.post("/haserver/tokens/", {"action": "create"}).status_code == 403


@pytest.mark.django_db
def test_a_driver_cannot_revoke_someone_elses_token(client):
    owner, intruder = DriverFactory(), DriverFactory()
    tokens.api_token_create(user=owner, name="x")
    token = AccessToken.objects.get(user=owner)
    client.force_login(intruder)
    client.post("/haserver/tokens/", {"action": "revoke", "token_id": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is None
