"""The driver's web login by phone code, in front of the token page: the same codes, attempts
and rate limits as the driver app's OTP login (one set of services in accounts)."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.models import AccessToken, User
from tests.factories import DriverFactory
from tests.support.cache import clear_cache_keys

PHONE = "+31 6 1234 5678"
E164 = "+31612345678"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_limits():
    """Rate-limit counters live in the cache: each test starts with none of this run's."""
    clear_cache_keys()
    yield
    clear_cache_keys()


@pytest.fixture
def sent(monkeypatch):
    """The SMS texts sent, instead of logging them."""
    messages: list[tuple[str, str]] = []

    class Capture:
        def send(self, *, to, text):
            messages.append((to, text))

    monkeypatch.setattr(services, "get_sms_provider", lambda: Capture())
    return messages


def last_code(sent) -> str:
    return sent[-1][1].split("code is ")[1].split(".")[0]


def test_the_token_page_sends_a_visitor_to_the_phone_login(client):
    page = client.get("/haserver/tokens/")
    assert page.status_code == 302 and page["Location"] == "/haserver/login/?next=/haserver/tokens/"
    login = client.get(page["Location"])
    assert login.status_code == 200 and b'id="phone-form"' in login.content


def test_a_driver_logs_in_with_the_sms_code_and_creates_a_token(client, sent):
    driver = DriverFactory(phone=E164)
    asked = client.post("/haserver/login/", {"action": "send", "phone": PHONE, "next": "/haserver/tokens/"})
    assert asked.status_code == 200 and b'id="code-form"' in asked.content
    assert sent[-1][0] == E164
    logged_in = client.post(
        "/haserver/login/", {"action": "check", "phone": PHONE, "code": last_code(sent), "next": "/haserver/tokens/"}
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == "/haserver/tokens/"
    page = client.post("/haserver/tokens/", {"action": "create", "name": "Home Assistant"})
    assert page.status_code == 200 and b"new-token" in page.content
    assert AccessToken.objects.filter(user=driver, kind="home_api").count() == 1
    # No driver app token was issued by the web login.
    assert not AccessToken.objects.filter(user=driver, kind=AccessToken.Kind.DRIVER).exists()

    client.post("/haserver/logout/")
    assert client.get("/haserver/tokens/").status_code == 302


def test_a_first_login_creates_the_driver_as_the_app_login_does(client, sent):
    client.post("/haserver/login/", {"action": "send", "phone": PHONE})
    client.post("/haserver/login/", {"action": "check", "phone": PHONE, "code": last_code(sent)})
    assert User.objects.get(phone=E164).is_driver
    assert client.get("/haserver/tokens/").status_code == 200


def test_a_code_the_app_requested_works_on_the_page_and_only_once(client, sent):
    api = client.post("/api/v1/user/otp-request", {"phone": PHONE}, content_type="application/json")
    assert api.status_code == 200
    code = last_code(sent)
    first = client.post("/haserver/login/", {"action": "check", "phone": PHONE, "code": code})
    assert first.status_code == 302
    client.post("/haserver/logout/")
    again = client.post("/haserver/login/", {"action": "check", "phone": PHONE, "code": code})
    assert again.status_code == 400 and b"request a new one" in again.content


def test_wrong_codes_count_against_the_same_attempts(client, sent, settings):
    client.post("/haserver/login/", {"action": "send", "phone": PHONE})
    code = last_code(sent)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.DRIVERS_OTP_MAX_ATTEMPTS):
        page = client.post("/haserver/login/", {"action": "check", "phone": PHONE, "code": wrong})
        assert page.status_code == 400 and b'id="code-form"' in page.content
    locked = client.post("/haserver/login/", {"action": "check", "phone": PHONE, "code": code})
    assert locked.status_code == 400 and b"Too many wrong codes" in locked.content
    assert client.get("/haserver/tokens/").status_code == 302


def test_code_requests_share_the_apps_rate_limit(client, sent, settings):
    allowed = int(settings.DRIVERS_OTP_RATE_PER_PHONE_AND_IP.split("/")[0])
    for _ in range(allowed):
        assert (
            client.post("/api/v1/user/otp-request", {"phone": PHONE}, content_type="application/json").status_code
            == 200
        )
    page = client.post("/haserver/login/", {"action": "send", "phone": PHONE})
    assert page.status_code == 429 and page["Retry-After"]
    assert b"Too many requests" in page.content
    assert len(sent) == allowed


def test_a_bad_phone_number_gets_a_clear_message(client, sent):
    page = client.post("/haserver/login/", {"action": "send", "phone": "not a phone"})
    assert page.status_code == 400 and b"Not a phone number" in page.content and b'id="phone-form"' in page.content
    assert sent == []


def test_it_never_redirects_off_site_after_login(client, sent):
    client.post("/haserver/login/", {"action": "send", "phone": PHONE})
    page = client.post(
        "/haserver/login/",
        {"action": "check", "phone": PHONE, "code": last_code(sent), "next": "https://evil.example/"},
    )
    assert page.status_code == 302 and page["Location"] == "/haserver/tokens/"


def test_the_login_form_needs_a_csrf_token(sent):
    from django.test import Client as DjangoClient

    client = DjangoClient(enforce_csrf_checks=True)
    assert client.post("/haserver/login/", {"action": "send", "phone": PHONE}).status_code == 403
    assert sent == []
