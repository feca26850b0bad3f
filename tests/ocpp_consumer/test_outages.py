"""Outages of Redis and PostgreSQL, and the death of a web process, with real daphne
processes, a real redis-server stopped and restarted, and a real PostgreSQL that refuses
connections (issue 17). What must hold: no charger socket is closed by us, nothing is
acknowledged that was not stored, every transaction-related frame is stored exactly once
(the charger resends what got an error, as OCPP says), and everything recovers by itself."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import requests
import websockets
from asgiref.sync import sync_to_async

from chargepoints.models import IdToken, OcppMessage
from sessions_app.models import ChargeSession, MeterSample
from tests.factories import OperatorFactory, SiteFactory
from tests.support.chargers import PASSWORD, charge_point_add_for_e2e
from tests.support.clients import make_api_key
from tests.support.outages import RawCharger, database_refusing_connections

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _http(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://").split("/ocpp/")[0]


def _meter_values(transaction_id: int, wh: int) -> dict:
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {"timestamp": _now(), "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"}]}
        ],
    }


async def _boot_and_start(charger: RawCharger) -> int:
    assert (await charger.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))[0] == 3
    await charger.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"})
    answer = await charger.call(
        "StartTransaction", {"connectorId": 1, "idTag": "CARD-1", "meterStart": 1000, "timestamp": _now()}
    )
    assert answer[0] == 3 and answer[2]["idTagInfo"]["status"] == "Accepted", answer
    return answer[2]["transactionId"]


def _operator_charger():
    operator = OperatorFactory()
    cp = charge_point_add_for_e2e(site=SiteFactory(operator=operator))
    IdToken.objects.get_or_create(uid="CARD-1")
    return cp, make_api_key(operator)


def _get(url: str, key: str | None = None, timeout: float = 30) -> requests.Response:
    return requests.get(url, headers={"X-API-Key": key} if key else {}, timeout=timeout)


async def test_a_redis_outage_keeps_chargers_served_and_commands_fail_fast_then_recover(servers, throwaway_redis):
    """Two web processes on a Redis that dies for a while and comes back empty."""
    env = {"REDIS_URL": throwaway_redis.url, "OCPP_COMMAND_TIMEOUT": "10"}
    url_a, url_b = servers.get("redis-a", **env), servers.get("redis-b", **env)
    try:
        cp, key = await sync_to_async(_operator_charger)()
        charger = await RawCharger.connect(url_a, cp.identity, PASSWORD, answers={"Reset": {"status": "Accepted"}})
        transaction_id = await _boot_and_start(charger)
        reset = f"{_http(url_b)}/API/Reset/{cp.identity}?type=Soft"
        assert (await asyncio.to_thread(_get, reset, key)).json() == {"status": "Accepted"}

        throwaway_redis.stop()
        # Frames are still answered and stored, the socket stays open.
        for wh in (1500, 2000):
            answer = await charger.call("MeterValues", _meter_values(transaction_id, wh))
            assert answer[0] == 3, answer
        assert (await charger.call("Heartbeat", {}))[0] == 3
        # Commands fail at once with a clear answer, on either process.
        started = time.monotonic()
        failed = await asyncio.to_thread(_get, reset, key)
        assert failed.status_code == 503, failed.text
        assert "Redis" in failed.json()["detail"]
        assert time.monotonic() - started < 8  # (not the 10 s command timeout)
        health = (await asyncio.to_thread(_get, f"{_http(url_a)}/health")).json()
        assert health["status"] == "degraded" and health["down"] == ["redis"]
        # A charger connecting during the outage is accepted and served too.
        other_cp, _ = await sync_to_async(_operator_charger)()
        other = await RawCharger.connect(url_b, other_cp.identity, PASSWORD)
        assert (await other.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))[0] == 3

        throwaway_redis.start()  # empty: the registry and groups are gone

        # The registration is rebuilt without a restart: commands reach the charger again.
        # Until then a command is refused (503, or 404 "not connected" while the charger's
        # registration is rebuilt), never lost: a command the charger carried out must not
        # time out because its answer could not be passed back (the first use of a pooled
        # Redis connection that the restart closed).
        async def reset_accepted() -> bool:
            answer = await asyncio.to_thread(_get, reset, key)
            if answer.status_code in (503, 404):
                return False
            assert answer.status_code == 200 and answer.json() == {"status": "Accepted"}, (
                answer.status_code,
                answer.text,
            )
            return True

        deadline = time.monotonic() + 20
        while not await reset_accepted():
            assert time.monotonic() < deadline, "commands did not recover after Redis returned"
            await asyncio.sleep(0.5)
        answer = await charger.call(
            "StopTransaction", {"transactionId": transaction_id, "meterStop": 2500, "timestamp": _now()}
        )
        assert answer[0] == 3, answer
        assert charger.closed_by_server is None and other.closed_by_server is None

        session = await ChargeSession.objects.aget(charge_point=cp, transaction_id=str(transaction_id))
        assert session.stopped_at is not None and session.meter_stop_wh == 2500
        assert await MeterSample.objects.filter(session=session, value=2000).acount() == 1
        # Every frame of the outage is in the journal, the answers too.
        journal = OcppMessage.objects.filter(charge_point=cp, action="MeterValues")
        assert await journal.acount() == 4  # two CALLs, two answers
        await charger.close()
        await other.close()
    finally:
        servers.kill("redis-a", **env)
        servers.kill("redis-b", **env)


@pytest.mark.postgres
async def test_a_database_outage_keeps_sockets_open_and_acknowledges_nothing_unstored(servers):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a database outage is a PostgreSQL scenario")
    # (libpq reads PGAPPNAME: the outage terminates this server's connections only)
    env = {"DB_POOL_TIMEOUT": "2", "PGAPPNAME": "csms-outage-server"}
    url = servers.get("db-outage", **env)
    try:
        cp, key = await sync_to_async(_operator_charger)()
        late_cp, _ = await sync_to_async(_operator_charger)()
        charger = await RawCharger.connect(url, cp.identity, PASSWORD)
        transaction_id = await _boot_and_start(charger)
        assert (await charger.call("MeterValues", _meter_values(transaction_id, 1500)))[0] == 3

        outage_frame = _meter_values(transaction_id, 1800)
        with database_refusing_connections("csms-outage-server"):
            # Not stored, so not acknowledged: CALLERROR InternalError, socket open.
            answer = await charger.call("MeterValues", outage_frame)
            assert answer[0] == 4 and answer[2] == "InternalError", answer
            answer = await charger.call(
                "StopTransaction", {"transactionId": transaction_id, "meterStop": 2500, "timestamp": _now()}
            )
            assert answer[0] == 4 and answer[2] == "InternalError", answer
            # A handshake now is refused with 503 (come back later), not 500.
            with pytest.raises(websockets.InvalidStatus) as refused:
                await RawCharger.connect(url, late_cp.identity, PASSWORD)
            assert refused.value.response.status_code == 503
            health = await asyncio.to_thread(_get, f"{_http(url)}/health")
            assert health.status_code == 503 and health.json()["down"] == ["database"]
            # The APIs answer "try again shortly", not an internal error.
            status = await asyncio.to_thread(_get, f"{_http(url)}/API/Status", key)
            assert status.status_code == 503 and status.json()["code"] == "database_unavailable", status.text
            assert status.headers["Retry-After"] == "5"
            assert charger.closed_by_server is None

        # The database is back: the charger resends what got an error, as OCPP says.
        async def resend(action: str, payload: dict) -> list:
            deadline = time.monotonic() + 20
            while True:
                answer = await charger.call(action, payload)
                if answer[0] == 3 or time.monotonic() > deadline:
                    return answer
                await asyncio.sleep(0.5)

        assert (await resend("MeterValues", outage_frame))[0] == 3
        stop = {"transactionId": transaction_id, "meterStop": 2500, "timestamp": _now()}
        assert (await resend("StopTransaction", stop))[0] == 3
        late = await RawCharger.connect(url, late_cp.identity, PASSWORD)
        assert (await late.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))[0] == 3
        assert charger.closed_by_server is None

        session = await ChargeSession.objects.aget(charge_point=cp, transaction_id=str(transaction_id))
        assert session.stopped_at is not None and session.meter_stop_wh == 2500
        assert await MeterSample.objects.filter(session=session, value=1800).acount() == 1
        assert await ChargeSession.objects.filter(charge_point=cp).acount() == 1
        await charger.close()
        await late.close()
    finally:
        servers.kill("db-outage", **env)
