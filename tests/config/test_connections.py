"""Database connections stay bounded under ASGI (issue 17, finding 1): a real daphne on
PostgreSQL answers many HTTP requests and OCPP frames, and afterwards holds no more server
connections than its pool allows (with CONN_MAX_AGE > 0 every request's thread orphaned
one: 60 requests left 61 connections)."""

from __future__ import annotations

import asyncio

import pytest
import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from tests.support.chargers import simulated

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REQUESTS = 1000
FRAMES = 1000


def _server_connections() -> int:
    """Connections to the test database other than this test process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


async def test_requests_and_frames_leave_at_most_the_pool_open(on_postgres, servers, make_charge_point):
    url = servers.get("pool")
    base = url.replace("ws://", "http://").split("/ocpp/")[0]
    before = await sync_to_async(_server_connections)()

    def hammer_http() -> list[int]:
        with requests.Session() as session:
            return [session.get(f"{base}/health", timeout=10).status_code for _ in range(REQUESTS)]

    charge_point = await sync_to_async(make_charge_point)()
    async with simulated(url, charge_point.identity) as charger:
        statuses, _ = await asyncio.gather(
            asyncio.to_thread(hammer_http), asyncio.gather(*(charger.heartbeat() for _ in range(FRAMES)))
        )
    assert set(statuses) == {200}
    await asyncio.sleep(0.5)
    pool_max = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    after = await sync_to_async(_server_connections)()
    # The server process may hold up to its pool; earlier servers of this run keep theirs.
    assert after - before <= pool_max, (before, after)


@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_the_server_dropped_is_replaced(on_postgres):
    """A restart, fail-over or idle kill drops a connection sitting in the pool; the next
    query gets a live one (the pool checks it out with a check) instead of an error."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    connection.close()  # back to the pool
    params = connection.get_connection_params()
    params.pop("pool", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_a_command_does_not_hold_a_database_connection_while_it_waits(monkeypatch):
    """The wait for a charger can last a minute: the caller's connection goes back first, so
    slow chargers cannot use up the process's pool."""
    from django.db import connections

    from ocpp_consumer import commands

    held = []

    async def waiting_for_the_charger(identity, action, payload, *, timeout=None, source=""):
        held.append(connections["default"].connection is not None)
        return {"status": "Accepted"}

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    caller = connections["default"]
    monkeypatch.setattr(commands, "send_async", waiting_for_the_charger)
    assert commands.send("CP-1", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert caller.connection is None and held == [False]
