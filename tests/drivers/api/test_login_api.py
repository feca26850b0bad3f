import pytest
from rest_framework.test import APIClient

from accounts import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms(monkeypatch):
    texts = []

    class Capture:
        def send(self, *, to, text):
            texts.append(text)

    monkeypatch.setattr(services, "get_sms_provider", lambda: Capture())
    return texts


def _code(texts):
    return texts[-1].split("code is ")[1].split(".")[0]


def test_the_seed_login_flow(sms, settings):
    client = APIClient()
    response = client.post("/api/v1/user/otp-request", {"phone": "+976 8666 1488"}, format="json")
    assert response.status_code == 200, response.content
    response = client.post("/api/v1/user/otp-check", {"phone": "+976 8666 1488", "code": _code(sms)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "profile", "device", "nats"}
    assert body["profile"] == {"name": "", "email": "", "phone": "+97686661488", "balance": 0}
    assert body["device"] is None
    assert body["nats"] is None
    me = APIClient().post("/api/v1/user/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200 and me.json() == body


def test_a_wrong_code_answers_400_with_a_message(sms):
    client = APIClient()
    client.post("/api/v1/user/otp-request", {"phone": "+31612345678"}, format="json")
    response = client.post("/api/v1/user/otp-check", {"phone": "+31612345678", "code": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_code" and "attempts left" in response.json()["message"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/user/otp-request", {}),
        ("/api/v1/user/otp-request", {"phone": "not a phone"}),
        ("/api/v1/user/otp-request", {"phone": ["+31612345678"]}),
        ("/api/v1/user/otp-check", {"phone": "+31612345678"}),
        ("/api/v1/user/otp-check", {"phone": "+31612345678", "code": {"a": 1}}),
    ],
)
def test_bad_login_input_answers_400_with_a_message(path, body):
    response = APIClient().post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["message"]


def test_too_many_code_requests_answer_429_with_retry_after(sms, settings):
    settings.DRIVERS_OTP_RATE_PER_PHONE = "1/120"
    client = APIClient()
    assert client.post("/api/v1/user/otp-request", {"phone": "+31612345678"}, format="json").status_code == 200
    response = client.post("/api/v1/user/otp-request", {"phone": "+31612345678"}, format="json")
    assert response.status_code == 429
    assert response["Retry-After"] == "120"


def test_the_client_address_comes_from_the_proxy_only_when_trusted(sms, settings):
    from accounts.models import OtpChallenge

    client = APIClient()
    client.post("/api/v1/user/otp-request", {"phone": "+31612345678"}, format="json", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert OtpChallenge.objects.latest("id").client_ip == "127.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 2  # (was DRIVERS_TRUST_X_FORWARDED_FOR, which trusted the left-most entry)
    client.post(
        "/api/v1/user/otp-request", {"phone": "+31612345678"}, format="json", HTTP_X_FORWARDED_FOR="1.2.3.4, 10.0.0.1"
    )
    assert OtpChallenge.objects.latest("id").client_ip == "1.2.3.4"
