"""Fixtures shared by every test folder, loaded as a pytest plugin by tests/conftest.py (so
no test imports fixtures from another folder's conftest)."""

from __future__ import annotations

import pytest

from tests.factories import DriverFactory
from tests.support.chargers import Servers, charge_point_add_for_e2e


@pytest.fixture(scope="session")
def servers(django_db_setup, django_db_blocker):
    """Real daphne processes, started on first use and stopped at the end of the run."""
    running = Servers()
    yield running
    running.stop()


@pytest.fixture
def server(servers, transactional_db):
    yield servers.get("a")
    database_quiet_wait()


def database_quiet_wait(timeout: float = 10.0) -> None:
    """Before the test database is flushed (TRUNCATE), wait until the shared server has no
    transaction open on it: a charger's last frames or its disconnect may still be being
    stored, and a TRUNCATE meeting such a transaction deadlocks (seen at teardown)."""
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    quiet_checks = 0
    while time.monotonic() < deadline and quiet_checks < 2:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            busy = cursor.fetchone()[0]
        quiet_checks = quiet_checks + 1 if busy == 0 else 0
        time.sleep(0.1)


@pytest.fixture
def throwaway_redis():
    """A redis-server of the test's own, to stop (an outage) and start again (empty)."""
    from tests.support.outages import ThrowawayRedis

    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_charge_point(transactional_db):
    """Chargers for end-to-end tests; at teardown, the wait for a quiet database before the
    flush (as `server` does), for the tests that run servers of their own (`servers`)."""
    yield charge_point_add_for_e2e
    database_quiet_wait()


@pytest.fixture
def driver(db):
    return DriverFactory()


@pytest.fixture
def other_driver(db):
    return DriverFactory()
