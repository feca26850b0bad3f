"""Production fails closed: system checks (Error level, so runserver, migrate and the daphne
start in config/asgi.py refuse) naming every demo or laptop convenience that is on under
the production settings without its explicit ALLOW_... override.

Each convenience is declared off in its settings part and turned on by
config/settings/dev.py; the overrides are declared in config/settings/parts/security.py.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

TAG = "fail_closed"


def _conveniences() -> list[tuple[str, bool, tuple[str, bool], str]]:
    """(what, is it on, (its override, its value), how to turn it off) for each demo convenience."""
    return [
        (
            "PAYMENTS_SANDBOX_ENABLED is on: the sandbox pay page settles any payment (free wallet top-ups)",
            settings.PAYMENTS_SANDBOX_ENABLED,
            ("ALLOW_PAYMENTS_SANDBOX", settings.ALLOW_PAYMENTS_SANDBOX),
            "unset PAYMENTS_SANDBOX_ENABLED",
        ),
        (
            "QPAY_FALLBACK_TO_SANDBOX is on: without QPay keys the QPAY option is paid through the sandbox",
            settings.QPAY_FALLBACK_TO_SANDBOX,
            ("ALLOW_QPAY_FALLBACK_TO_SANDBOX", settings.ALLOW_QPAY_FALLBACK_TO_SANDBOX),
            "unset QPAY_FALLBACK_TO_SANDBOX",
        ),
        (
            "SMS_PROVIDER=console: every OTP login code is written to the log",
            settings.SMS_PROVIDER == "console",
            ("ALLOW_CONSOLE_SMS", settings.ALLOW_CONSOLE_SMS),
            "set SMS_PROVIDER=http with SMS_HTTP_URL (or SMS_PROVIDER=disabled)",
        ),
        (
            "DRIVERS_OTP_DEV_CODE_ENABLED is on: every OTP login code is the fixed DRIVERS_OTP_DEV_CODE",
            settings.DRIVERS_OTP_DEV_CODE_ENABLED,
            ("ALLOW_OTP_DEV_CODE", settings.ALLOW_OTP_DEV_CODE),
            "unset DRIVERS_OTP_DEV_CODE_ENABLED",
        ),
        (
            "OCPP_UNKNOWN_CHARGERS=pending: any charger id that connects is registered",
            settings.OCPP_UNKNOWN_CHARGERS == "pending",
            ("ALLOW_UNKNOWN_CHARGERS_PENDING", settings.ALLOW_UNKNOWN_CHARGERS_PENDING),
            "set OCPP_UNKNOWN_CHARGERS=refuse",
        ),
    ]


@checks.register(TAG)
def demo_conveniences_are_off(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if not settings.SECURITY_FAIL_CLOSED:
        return []
    errors = []
    for number, (what, on, (override, allowed), fix) in enumerate(_conveniences(), start=1):
        if on and not allowed:
            errors.append(
                checks.Error(
                    f"{what}; refused in production.",
                    hint=f"{fix}, or set {override}=true to allow it deliberately (never where real drivers pay).",
                    id=f"csms.E00{number}",
                )
            )
    return errors


@checks.register(TAG)
def an_sms_provider_is_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if not settings.SECURITY_FAIL_CLOSED:
        return []
    if settings.SMS_PROVIDER == "":
        return [
            checks.Error(
                "No SMS provider is configured: drivers could not log in by phone.",
                hint="Set SMS_PROVIDER=http with SMS_HTTP_URL (and SMS_HTTP_TOKEN), or SMS_PROVIDER=disabled "
                "to turn phone (OTP) login off deliberately.",
                id="csms.E010",
            )
        ]
    if settings.SMS_PROVIDER == "http" and not settings.SMS_HTTP_URL:
        return [checks.Error("SMS_PROVIDER=http needs SMS_HTTP_URL.", id="csms.E011")]
    if settings.SMS_PROVIDER not in ("http", "console", "disabled"):
        return [
            checks.Error(
                f"Unknown SMS_PROVIDER {settings.SMS_PROVIDER!r}.",
                hint="Use http, console or disabled.",
                id="csms.E012",
            )
        ]
    return []


def raise_unless_fail_closed() -> None:
    """Run the fail-closed checks; raise (stop the process) on any error. For process
    starts that run no system checks of their own (daphne, celery)."""
    if not settings.SECURITY_FAIL_CLOSED:
        return
    errors = [message for message in checks.run_checks(tags=[TAG]) if message.is_serious()]
    if errors:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Refusing to start:\n"
            + "\n".join(f"{message.id}: {message.msg} HINT: {message.hint}" for message in errors)
        )
