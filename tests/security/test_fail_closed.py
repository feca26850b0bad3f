"""Production fails closed (issue 16, finding 1): sandbox payments, the QPay-to-sandbox
fallback, console SMS, the fixed OTP code and Pending registration of unknown chargers are
off under the production settings, and a system check refuses any of them that is turned
on without its ALLOW_... override. No SMS provider refuses the start too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from config import checks

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "production-like-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "csms.example.com",
    "SMS_PROVIDER": "http",
    "SMS_HTTP_URL": "https://sms.example.com/send",
}
PROBE = (
    "import django, json; from django.conf import settings; django.setup();"
    "print(json.dumps({'sandbox': settings.PAYMENTS_SANDBOX_ENABLED, 'qpay_fallback': settings.QPAY_FALLBACK_TO_SANDBOX,"
    " 'sms': settings.SMS_PROVIDER, 'dev_code': settings.DRIVERS_OTP_DEV_CODE_ENABLED,"
    " 'unknown': settings.OCPP_UNKNOWN_CHARGERS}))"
)


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "PAYMENTS_SANDBOX_ENABLED",
            "QPAY_FALLBACK_TO_SANDBOX",
            "SMS_PROVIDER",
            "DRIVERS_OTP_DEV_CODE_ENABLED",
            "OCPP_UNKNOWN_CHARGERS",
        }
        and not k.startswith("ALLOW_")
    }
    clean.update(PRODUCTION)
    clean = {k: v for k, v in {**clean, **env}.items() if v is not None}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_production_has_every_demo_convenience_off_with_only_its_documented_variables():
    result = _run(["-c", PROBE])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "sandbox": False,
        "qpay_fallback": False,
        "sms": "http",
        "dev_code": False,
        "unknown": "refuse",
    }


def test_a_production_start_with_the_sandbox_on_is_refused_naming_it_and_its_override():
    result = _run(["manage.py", "check"], PAYMENTS_SANDBOX_ENABLED="true")
    assert result.returncode != 0
    assert "PAYMENTS_SANDBOX_ENABLED" in result.stderr and "ALLOW_PAYMENTS_SANDBOX" in result.stderr
    allowed = _run(["manage.py", "check"], PAYMENTS_SANDBOX_ENABLED="true", ALLOW_PAYMENTS_SANDBOX="true")
    assert allowed.returncode == 0, allowed.stderr


def test_daphne_refuses_to_load_the_application_in_production_with_console_sms():
    result = _run(["-c", "import config.asgi"], SMS_PROVIDER="console")
    assert result.returncode != 0
    assert "SMS_PROVIDER=console" in result.stderr and "ALLOW_CONSOLE_SMS" in result.stderr


def test_a_production_start_without_an_sms_provider_is_refused():
    result = _run(["manage.py", "check"], SMS_PROVIDER=None, SMS_HTTP_URL=None)
    assert result.returncode != 0
    assert "csms.E010" in result.stderr and "SMS_PROVIDER" in result.stderr


def test_check_deploy_reports_only_what_the_readme_explains():
    result = _run(["manage.py", "check", "--deploy"])
    assert result.returncode == 0, result.stderr
    reported = {
        line.split(")")[0].split("(")[1]
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith("?: (")
    }
    assert reported <= {"security.W005", "security.W021"}
    readme = (ROOT / "README.md").read_text()
    for check_id in reported:
        assert check_id in readme


@pytest.mark.parametrize(
    "setting, value, override, check_text",
    [
        ("PAYMENTS_SANDBOX_ENABLED", True, "ALLOW_PAYMENTS_SANDBOX", "PAYMENTS_SANDBOX_ENABLED"),
        ("QPAY_FALLBACK_TO_SANDBOX", True, "ALLOW_QPAY_FALLBACK_TO_SANDBOX", "QPAY_FALLBACK_TO_SANDBOX"),
        ("SMS_PROVIDER", "console", "ALLOW_CONSOLE_SMS", "SMS_PROVIDER=console"),
        ("DRIVERS_OTP_DEV_CODE_ENABLED", True, "ALLOW_OTP_DEV_CODE", "DRIVERS_OTP_DEV_CODE_ENABLED"),
    ],
)
def test_each_convenience_on_in_production_is_an_error_unless_allowed(settings, setting, value, override, check_text):
    settings.SECURITY_FAIL_CLOSED = True
    settings.PAYMENTS_SANDBOX_ENABLED = settings.QPAY_FALLBACK_TO_SANDBOX = False
    settings.DRIVERS_OTP_DEV_CODE_ENABLED = False
    settings.SMS_PROVIDER, settings.SMS_HTTP_URL = "http", "https://sms.example.com/send"
    assert checks.demo_conveniences_are_off() == []
    setattr(settings, setting, value)
    errors = checks.demo_conveniences_are_off()
    assert len(errors) == 1 and check_text in errors[0].msg and override in errors[0].hint
    assert errors[0].is_serious()
    setattr(settings, override, True)
    assert checks.demo_conveniences_are_off() == []


def test_pending_registration_of_unknown_chargers_is_an_error_in_production_unless_allowed(settings):
    settings.SECURITY_FAIL_CLOSED = True
    settings.PAYMENTS_SANDBOX_ENABLED = settings.QPAY_FALLBACK_TO_SANDBOX = False
    settings.SMS_PROVIDER = "http"
    settings.OCPP_UNKNOWN_CHARGERS = "pending"
    [error] = checks.demo_conveniences_are_off()
    assert "OCPP_UNKNOWN_CHARGERS=pending" in error.msg
    settings.ALLOW_UNKNOWN_CHARGERS_PENDING = True
    assert checks.demo_conveniences_are_off() == []


def test_outside_production_the_conveniences_are_allowed(settings):
    settings.SECURITY_FAIL_CLOSED = False
    settings.PAYMENTS_SANDBOX_ENABLED = True
    settings.SMS_PROVIDER = "console"
    assert checks.demo_conveniences_are_off() == [] and checks.an_sms_provider_is_configured() == []


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["", "disabled"])
def test_otp_login_without_an_sms_provider_answers_a_clear_error_and_stores_nothing(settings, provider):
    from accounts.models import OtpChallenge

    settings.SMS_PROVIDER = provider
    response = APIClient().post("/api/v1/user/otp-request", {"phone": "+31612345678"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "otp_login_disabled"
    assert not OtpChallenge.objects.exists()
