import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.authentication import ApiKeyAuthentication
from accounts.models import AccessToken, ApiKey
from accounts.services import access_token_issue
from tests.factories import DriverFactory, OperatorFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_creating_an_api_key_shows_the_raw_key_once(admin_client):
    operator = OperatorFactory()
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"), {"operator": operator.pk, "name": "ci"}, follow=True
    )
    assert response.status_code == 200
    text = response.content.decode()
    raw = re.search(r"API key created: (csk_[\w-]+)", text).group(1)
    key = ApiKey.objects.get()
    assert key.key_hash != raw and raw.startswith(key.prefix)

    class Request:
        META = {"HTTP_X_API_KEY": raw}

    assert ApiKeyAuthentication().authenticate(Request())[1] == key
    detail = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk])).content.decode()
    assert raw not in detail and key.key_hash not in detail


def test_api_keys_and_tokens_can_be_revoked_from_the_admin(admin_client):
    key = ApiKey.objects.create(operator=OperatorFactory(), name="k", prefix="csk_x", key_hash="h" * 64)
    admin_client.post(reverse("admin:accounts_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    access_token_issue(user=DriverFactory(), kind=AccessToken.Kind.DRIVER)
    token = AccessToken.objects.get()
    admin_client.post(
        reverse("admin:accounts_accesstoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_users_filter_by_drivers_and_staff_and_search_by_phone(admin_client):
    driver = DriverFactory(phone="+31611112222", username="+31611112222")
    StaffFactory(username="ops-person")
    drivers = admin_client.get(reverse("admin:accounts_user_changelist"), {"kind": "drivers"}).content.decode()
    assert "+31611112222" in drivers and "ops-person" not in drivers
    staff = admin_client.get(reverse("admin:accounts_user_changelist"), {"kind": "staff"}).content.decode()
    assert "ops-person" in staff and "+31611112222" not in staff
    found = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "1111222"}).content.decode()
    assert driver.phone in found


def test_otp_challenges_and_tokens_are_read_only(admin_client):
    assert admin_client.get(reverse("admin:accounts_otpchallenge_add")).status_code == 403
    assert admin_client.get(reverse("admin:accounts_accesstoken_add")).status_code == 403


def test_the_nats_users_command_prints_each_drivers_credentials(settings, capsys):
    from drivers.nats import nats_password

    settings.NATS_URL = "nats://csms:pub@127.0.0.1:4222"
    driver = DriverFactory()
    StaffFactory()
    call_command("nats_driver_users")
    out = capsys.readouterr().out
    assert f'"driver-{driver.pk}"' in out and nats_password(driver.pk) in out
    assert f'"drivers.{driver.pk}.>"' in out and '{user: "csms", password: "pub"}' in out
    assert out.count("driver-") == 1


def test_the_nats_users_command_warns_when_the_publisher_has_no_credentials(settings, capsys):
    settings.NATS_URL = "nats://127.0.0.1:4222"
    DriverFactory()
    call_command("nats_driver_users")
    captured = capsys.readouterr()
    assert "authorization {" in captured.out
    assert "warning" in captured.err and "NATS_URL" in captured.err
