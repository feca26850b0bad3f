"""Shared test set-up: the embedded Redis when no REDIS_URL is given, the shared fixtures
(tests/support/fixtures.py) and per-test connection hygiene. Helpers are plain modules
under tests/support/, imported by name; nothing imports from a conftest."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.support.cache import clear_cache_keys

pytest_plugins = ["tests.support.fixtures"]


def pytest_configure(config):
    if settings.EMBEDDED_REDIS:
        from config.embedded_redis import ensure_running

        ensure_running(settings.EMBEDDED_REDIS_SOCKET)


@pytest.fixture
def on_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    return True


@pytest.fixture(autouse=True)
def _close_thread_connections():
    """ORM calls made through sync_to_async / database_sync_to_async (OCPP handlers, the
    command bus, services called from async tests) run in asgiref's single worker thread,
    whose connection outlives the test. Close it after every test, in every folder: one left
    open makes PostgreSQL refuse to drop the test database at the end ("is being accessed
    by other users"). The e2e servers are session fixtures that depend on django_db_setup,
    so they are stopped before the database is dropped too."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def clean_cache():
    clear_cache_keys()
    yield
    clear_cache_keys()
