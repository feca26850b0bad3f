"""Project-wide system checks (Error level, so runserver, migrate and check refuse).

Production fails closed: checks naming every demo or laptop convenience that is on under
the production settings without its explicit ALLOW_... override (the daphne start in
config/asgi.py runs them too). Each convenience is declared off in its settings part and
turned on by config/settings/dev.py; the overrides are declared in
config/settings/parts/security.py.

Celery's limits fit the broker (every environment): every task has a hard time limit and
the broker's visibility timeout outlasts the longest one (config/settings/parts/celery.py);
every worker start runs them too (config/celery_app.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

TAG = "fail_closed"
CELERY_TAG = "celery"
# kombu's Redis transport, when the transport options name none.
KOMBU_VISIBILITY_TIMEOUT = 3600


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


# --- Celery -------------------------------------------------------------------------------


def celery_task_time_limits() -> dict[str, int | None]:
    """Each project task's hard time limit in seconds, as a worker applies it (its entry in
    CELERY_TASK_ANNOTATIONS, else CELERY_TASK_TIME_LIMIT); None for a task without one."""
    from django.utils.module_loading import autodiscover_modules

    from config.celery_app import app

    # The tasks modules Celery's autodiscovery imports in a worker. (Not through the
    # loader's import_default_modules: in a worker it runs the system checks again.)
    autodiscover_modules("tasks")
    return {name: task.time_limit for name, task in sorted(app.tasks.items()) if not name.startswith("celery.")}


@checks.register(CELERY_TAG)
def celery_visibility_timeout_outlasts_every_task(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    limits = celery_task_time_limits()
    return _tasks_without_a_limit(limits) + _limits_for_no_task(limits) + _visibility_not_above_the_limits(limits)


def _tasks_without_a_limit(limits: dict[str, int | None]) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"Celery task {name} has no hard time limit: the broker would hand it to another worker "
            "while it still runs once the visibility timeout passed.",
            hint="Set CELERY_TASK_TIME_LIMIT (config/settings/parts/celery.py).",
            id="csms.E022",
        )
        for name, limit in limits.items()
        if not limit
    ]


def _limits_for_no_task(limits: dict[str, int | None]) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"CELERY_TASK_ANNOTATIONS names {name}, which is not a registered task: its time limits apply to nothing.",
            hint="Use the task's registered name (module path and function name, or its name=...).",
            id="csms.E021",
        )
        for name in settings.CELERY_TASK_ANNOTATIONS
        if name not in limits
    ]


def _visibility_not_above_the_limits(limits: dict[str, int | None]) -> list[checks.CheckMessage]:
    bounded = {name: limit for name, limit in limits.items() if limit}
    if not bounded:
        return []
    longest = max(bounded, key=bounded.__getitem__)
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", KOMBU_VISIBILITY_TIMEOUT)
    if visibility > bounded[longest]:
        return []
    return [
        checks.Error(
            f"The broker's visibility timeout ({visibility} s) is not longer than the longest task time limit "
            f"({bounded[longest]} s, {longest}): Redis would hand a task that is still running to another worker.",
            hint=f"Set CELERY_VISIBILITY_TIMEOUT above {bounded[longest]} (the default is the longest limit "
            "plus CELERY_VISIBILITY_MARGIN), or lower the time limits (config/settings/parts/celery.py).",
            id="csms.E020",
        )
    ]
