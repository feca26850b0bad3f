"""Shared test set-up: the embedded Redis when no REDIS_URL is given, and helpers."""
from __future__ import annotations

import pytest
from django.conf import settings


def pytest_configure(config):
    if getattr(settings, "EMBEDDED_REDIS", False):
        from config.embedded_redis import ensure_running

        ensure_running(settings.EMBEDDED_REDIS_SOCKET)


@pytest.fixture
def on_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    return True
