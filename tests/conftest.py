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


def clear_cache_keys() -> int:
    """Delete this run's cache keys only.

    Never use cache.clear() in tests: on Redis it is FLUSHDB, which also wipes the channel
    layer's queues and the OCPP socket registry that live servers of the same run use."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    pattern = f"{settings.CACHES['default']['KEY_PREFIX']}:*"
    deleted = 0
    batch = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    return deleted


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
