"""Celery's delivery settings and limits fit the broker: every task has a hard time limit,
the visibility timeout outlasts the longest one, and a worker refuses to start otherwise
(config/settings/parts/celery.py, config/checks.py, config/celery_app.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config.checks import celery_task_time_limits, celery_visibility_timeout_outlasts_every_task

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_acknowledges_after_the_task_and_hands_back_a_lost_task():
    from config.celery_app import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_every_task_has_a_hard_time_limit_the_visibility_timeout_outlasts(settings):
    limits = celery_task_time_limits()
    assert "payments.tasks.settle_reservation_for_session" in limits
    assert all(limits.values()), f"tasks without a hard time limit: {[n for n, v in limits.items() if not v]}"
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > max(limits.values())
    assert celery_visibility_timeout_outlasts_every_task() == []


def test_the_longer_limit_reaches_the_task_a_worker_runs():
    limits = celery_task_time_limits()
    assert limits["payments.tasks.settle_reservation_for_session"] == 600
    assert limits["sessions_app.tasks.charge_session_orphan_sweep"] == 300


def test_a_visibility_timeout_not_above_the_longest_task_limit_is_an_error(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": max(celery_task_time_limits().values())}
    errors = celery_visibility_timeout_outlasts_every_task()
    assert [error.id for error in errors] == ["csms.E020"]
    assert "CELERY_VISIBILITY_TIMEOUT" in errors[0].hint


def test_no_visibility_timeout_means_kombus_hour_which_outlasts_the_tasks(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    assert celery_visibility_timeout_outlasts_every_task() == []


def test_a_time_limit_for_a_task_that_does_not_exist_is_an_error(settings):
    settings.CELERY_TASK_ANNOTATIONS = {
        **settings.CELERY_TASK_ANNOTATIONS,
        "payments.tasks.setle_reservation": {"time_limit": 900},
    }
    errors = celery_visibility_timeout_outlasts_every_task()
    assert [error.id for error in errors] == ["csms.E021"]
    assert "payments.tasks.setle_reservation" in errors[0].msg


def test_a_worker_refuses_to_start_when_the_visibility_timeout_does_not_outlast_its_tasks():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": "600",
        # Nothing listens here: the worker must stop before it ever tries the broker.
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "info"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Refusing to start the worker" in result.stderr and "csms.E020" in result.stderr
    assert "Cannot connect" not in result.stdout + result.stderr
