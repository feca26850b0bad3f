"""The Celery app of the worker and beat processes (`celery -A config worker|beat`).

Its settings are the CELERY_* Django settings (config/settings/parts/celery.py). A worker
refuses to start when the broker's visibility timeout does not outlast every task's time
limit (config/checks.py): it would then run tasks twice while they still run.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def refuse_limits_that_do_not_fit(**kwargs) -> None:
    """Run the Celery system checks (tag "celery", config/checks.py) and stop the worker
    start on an error. Celery logs and ignores exceptions from signal handlers; exiting
    stops the start."""
    import django
    from django.core import checks

    django.setup()  # does nothing when Celery's Django fix-up has set Django up already
    errors = [message for message in checks.run_checks(tags=["celery"]) if message.is_serious()]
    if errors:
        raise SystemExit(
            "Refusing to start the worker:\n"
            + "\n".join(f"{message.id}: {message.msg} HINT: {message.hint}" for message in errors)
        )
