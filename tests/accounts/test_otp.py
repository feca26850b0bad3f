from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts import services
from accounts.errors import DomainError, NotAllowed, RateLimited, UpstreamFailed
from accounts.models import AccessToken, OtpChallenge, User
from accounts.secrets import token_hash

PHONE = "+976 8666 1488"
E164 = "+97686661488"

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Captures the SMS texts instead of logging them."""
    messages = []

    class Capture:
        def send(self, *, to, text):
            messages.append((to, text))

    monkeypatch.setattr(services, "get_sms_provider", lambda: Capture())
    return messages


def _code(sent) -> str:
    return sent[-1][1].split("code is ")[1].split(".")[0]


def test_it_sends_a_six_digit_code_and_stores_only_its_hash(sent):
    challenge = services.otp_request(phone=PHONE, client_ip="10.0.0.1")
    code = _code(sent)
    assert sent[-1][0] == E164
    assert len(code) == 6 and code.isdigit()
    challenge.refresh_from_db()
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=5)


def test_a_correct_code_logs_in_and_creates_the_driver_once(sent):
    services.otp_request(phone=PHONE, client_ip=None)
    login = services.otp_check(phone=PHONE, code=_code(sent), client_ip=None)
    assert login.user.phone == E164 and login.user.is_driver
    assert AccessToken.objects.get(key_hash=token_hash(login.token)).user == login.user
    services.otp_request(phone="+97686661488", client_ip=None)
    again = services.otp_check(phone=PHONE, code=_code(sent), client_ip=None)
    assert again.user == login.user and again.token != login.token
    assert User.objects.filter(phone=E164).count() == 1


def test_a_code_works_only_once(sent):
    services.otp_request(phone=PHONE, client_ip=None)
    code = _code(sent)
    services.otp_check(phone=PHONE, code=code, client_ip=None)
    with pytest.raises(DomainError) as error:
        services.otp_check(phone=PHONE, code=code, client_ip=None)
    assert error.value.code == "code_expired"


def test_it_expires_codes_after_five_minutes(sent):
    services.otp_request(phone=PHONE, client_ip=None)
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        with pytest.raises(DomainError) as error:
            services.otp_check(phone=PHONE, code=_code(sent), client_ip=None)
    assert error.value.code == "code_expired"


def test_it_allows_five_tries_and_counts_wrong_ones(sent):
    services.otp_request(phone=PHONE, client_ip=None)
    code = _code(sent)
    wrong = "000000" if code != "000000" else "111111"
    for _left in (4, 3, 2, 1, 0):
        with pytest.raises(DomainError) as error:
            services.otp_check(phone=PHONE, code=wrong, client_ip=None)
        assert error.value.code == "wrong_code"
    assert OtpChallenge.objects.get().attempts == 5
    with pytest.raises(DomainError) as error:
        services.otp_check(phone=PHONE, code=code, client_ip=None)
    assert error.value.code == "too_many_attempts"


def test_a_new_code_replaces_the_previous_one(sent):
    services.otp_request(phone=PHONE, client_ip=None)
    first = _code(sent)
    services.otp_request(phone=PHONE, client_ip=None)
    second = _code(sent)
    if first != second:
        with pytest.raises(DomainError):
            services.otp_check(phone=PHONE, code=first, client_ip=None)
    assert services.otp_check(phone=PHONE, code=second, client_ip=None).user.phone == E164


def test_it_rate_limits_per_phone(sent, settings):
    settings.DRIVERS_OTP_RATE_PER_PHONE = "3/600"
    for _ in range(3):
        services.otp_request(phone=PHONE, client_ip=None)
    with pytest.raises(DomainError) as error:
        services.otp_request(phone=PHONE, client_ip=None)
    assert isinstance(error.value, RateLimited) and error.value.retry_after == 600
    services.otp_request(phone="+31612345678", client_ip=None)  # another phone is unaffected


def test_it_rate_limits_per_client_address(sent, settings):
    settings.DRIVERS_OTP_RATE_PER_IP = "2/600"
    services.otp_request(phone="+31612345671", client_ip="10.1.1.1")
    services.otp_request(phone="+31612345672", client_ip="10.1.1.1")
    with pytest.raises(DomainError) as error:
        services.otp_request(phone="+31612345673", client_ip="10.1.1.1")
    assert isinstance(error.value, RateLimited)
    services.otp_request(phone="+31612345673", client_ip="10.1.1.2")


def test_it_rate_limits_code_checks_per_client_address(sent, settings):
    settings.DRIVERS_OTP_CHECK_RATE_PER_IP = "2/600"
    for _ in range(2):
        with pytest.raises(DomainError):
            services.otp_check(phone=PHONE, code="1", client_ip="10.2.2.2")
    with pytest.raises(DomainError) as error:
        services.otp_check(phone=PHONE, code="1", client_ip="10.2.2.2")
    assert isinstance(error.value, RateLimited)


def test_the_dev_code_works_only_when_enabled(sent, settings):
    services.otp_request(phone=PHONE, client_ip=None)
    if _code(sent) != "000000":
        with pytest.raises(DomainError):
            services.otp_check(phone=PHONE, code="0000", client_ip=None)
    settings.DRIVERS_OTP_DEV_CODE_ENABLED = True
    services.otp_request(phone=PHONE, client_ip=None)
    assert _code(sent) == "0000"
    assert services.otp_check(phone=PHONE, code="0000", client_ip=None).user.phone == E164


def test_a_disabled_driver_cannot_log_in(sent):
    User.objects.create_user(username=E164, phone=E164, is_active=False)
    services.otp_request(phone=PHONE, client_ip=None)
    with pytest.raises(DomainError) as error:
        services.otp_check(phone=PHONE, code=_code(sent), client_ip=None)
    assert isinstance(error.value, NotAllowed)


def test_an_sms_failure_is_reported_and_the_code_voided(monkeypatch):
    from accounts.sms import SmsError

    class Broken:
        def send(self, *, to, text):
            raise SmsError("down")

    monkeypatch.setattr(services, "get_sms_provider", lambda: Broken())
    with pytest.raises(DomainError) as error:
        services.otp_request(phone=PHONE, client_ip=None)
    assert isinstance(error.value, UpstreamFailed)
    assert not OtpChallenge.objects.filter(expires_at__gt=timezone.now()).exists()


def test_revoking_a_token_revokes_its_children(driver):
    parent_raw = services.access_token_issue(user=driver, kind=AccessToken.Kind.HOME_API)
    parent = AccessToken.objects.get(key_hash=token_hash(parent_raw))
    services.access_token_issue(user=driver, kind=AccessToken.Kind.HOME_SESSION, parent=parent)
    services.access_token_revoke(token=parent)
    assert not AccessToken.objects.filter(revoked_at__isnull=True).exists()
