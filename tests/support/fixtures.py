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
def server(servers, transactional_db) -> str:
    return servers.get("a")


@pytest.fixture
def make_charge_point(transactional_db):
    return charge_point_add_for_e2e


@pytest.fixture
def driver(db):
    return DriverFactory()


@pytest.fixture
def other_driver(db):
    return DriverFactory()
