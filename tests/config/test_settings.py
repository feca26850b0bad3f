"""Settings choose the back ends from the environment and refuse unsafe production."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; from django.conf import settings; django.setup();"
    "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], 'redis': settings.REDIS_URL,"
    " 'broker': settings.CELERY_BROKER_URL, 'tz': settings.TIME_ZONE, 'use_tz': settings.USE_TZ,"
    " 'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS}))"
)


def _settings(module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings("config.settings.production", ALLOWED_HOSTS="csms.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _settings("config.settings.production", SECRET_KEY="s3cret-" * 8)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_starts_with_its_secrets():
    result = _settings("config.settings.production", SECRET_KEY="s3cret-" * 8, ALLOWED_HOSTS="csms.example.com")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False and values["hosts"] == ["csms.example.com"]


def test_with_no_environment_it_runs_on_sqlite_and_the_embedded_redis():
    values = json.loads(_settings("config.settings.dev").stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["redis"].startswith("unix://") and values["redis"].endswith("var/redis.sock")
    assert values["broker"].startswith("redis+socket://")
    assert values["tz"] == "UTC" and values["use_tz"] is True


def test_database_url_and_redis_url_switch_to_postgresql_and_that_redis():
    values = json.loads(
        _settings(
            "config.settings.dev",
            DATABASE_URL="postgres://u@db.example:5432/csms",
            REDIS_URL="redis://cache.example:6379/2",
        ).stdout
    )
    assert values["db"] == "django.db.backends.postgresql"
    assert values["redis"] == "redis://cache.example:6379/2"
    assert values["broker"] == "redis://cache.example:6379/2"


def test_every_beat_entry_names_a_registered_task():
    from django.conf import settings

    from config.celery_app import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE, "beat has nothing to run"
    missing = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} - set(app.tasks)
    assert not missing, f"beat schedules unknown tasks: {missing}"


def _nothing():
    return contextlib.nullcontext()


def _database_url_of_the_test_database() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_the_periodic_price_job_travels_through_the_broker_to_a_real_worker():
    """web -> Redis broker -> worker process -> database, with the real beat job."""
    import time

    import redis
    from django.conf import settings

    from config.celery_app import app
    from tariffs.models import ElectricityPrice

    queue = f"probe-{os.getpid()}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(queue)
    with pytest.warns(Warning) if settings.CELERY_TASK_ALWAYS_EAGER else _nothing():
        app.send_task("tariffs.tasks.ensure_upcoming_prices", queue=queue)
    assert client.llen(queue) == 1, "the task never reached the broker"
    assert not ElectricityPrice.objects.exists()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_URL": _database_url_of_the_test_database(),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # generous: CI machines may be loaded
        while time.monotonic() < deadline and not ElectricityPrice.objects.exists():
            time.sleep(0.3)
        generated = ElectricityPrice.objects.count()
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        client.delete(queue)
    assert generated >= 28 * 24, f"the worker did not generate a month of prices:\n{output}"
    assert "Traceback" not in output, output
