"""End to end: a driver starts and finishes charging through the API on a simulated OCPP
1.6 charger connected to a real daphne process over a real socket, and follows the live
events on /ws/events/ of that same server."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from asgiref.sync import SyncToAsync, sync_to_async
from django.db import connections

from accounts.models import AccessToken
from accounts.services import access_token_issue
from billing.models import Purchase
from chargepoints.models import ChargePoint
from chargepoints.services import charge_point_add
from drivers.charging import charging_events_emit
from sessions_app.models import ChargeSession
from tests.factories import DriverFactory, SiteFactory
from tests.support.chargers import PASSWORD, Servers, eventually, simulated
from tests.support.clients import client_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    running = Servers()
    yield running.get("drivers")
    running.stop()


@pytest.fixture(autouse=True)
def _close_worker_connections():
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


def _setup():
    cp = charge_point_add(identity=f"DRV-{uuid.uuid4().hex[:8]}", password=PASSWORD, connector_count=1)
    ChargePoint.objects.filter(pk=cp.pk).update(site=SiteFactory())
    driver = DriverFactory()
    from billing.models import Wallet, WalletEntry

    wallet = Wallet.objects.create(user=driver)
    WalletEntry.objects.create(wallet=wallet, kind="top_up", amount="25.00", idempotency_key=f"e2e-{driver.pk}")
    return cp, driver


async def test_a_driver_charges_on_a_real_charger_and_sees_live_events(server):
    cp, driver = await sync_to_async(_setup)()
    api = await sync_to_async(client_for)(driver)
    token = await sync_to_async(access_token_issue)(user=driver, kind=AccessToken.Kind.DRIVER)
    events_url = server.replace("/ocpp/", "/ws/events/") + f"?token={token}"
    async with simulated(server, cp.identity) as charger, websockets.connect(events_url) as events:
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)

        response = await sync_to_async(api.post)(f"/api/v1/devices/{cp.pk}/start")
        assert response.status_code == 200, response.content
        session = await eventually(
            lambda: ChargeSession.objects.filter(user=driver, status="active").first(), timeout=10
        )
        assert session is not None and session.charge_point_id == cp.pk

        me = (await sync_to_async(api.post)("/api/v1/user/me")).json()
        assert me["device"]["_id"] == str(cp.pk)
        again = await sync_to_async(api.post)(f"/api/v1/devices/{cp.pk}/start")
        assert again.status_code == 409

        assert await sync_to_async(charging_events_emit)() >= 1
        message = json.loads(await asyncio.wait_for(events.recv(), timeout=10))
        assert message["topic"] == f"drivers.{driver.pk}.CHARGING"
        assert set(message["data"]) == {"energy", "waitingTime", "amount"}

        response = await sync_to_async(api.post)(f"/api/v1/devices/{cp.pk}/finish")
        assert response.status_code == 200, response.content
        session = await sync_to_async(ChargeSession.objects.get)(pk=session.pk)
        assert session.status == "completed" and session.closed_by == "charger" and session.stop_reason == "Remote"
        purchase = await sync_to_async(Purchase.objects.get)(session=session)
        assert response.json() == {"id": str(purchase.pk)}
        assert "RemoteStopTransaction" in charger.commands_received


async def test_a_driver_charges_on_a_real_ocpp_201_station(server):
    from tests.support.chargers import simulated201

    cp, driver = await sync_to_async(_setup)()
    api = await sync_to_async(client_for)(driver)
    async with simulated201(server, cp.identity) as station:
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).protocol == "ocpp2.0.1")
        response = await sync_to_async(api.post)(f"/api/v1/devices/{cp.pk}/start")
        assert response.status_code == 200, response.content
        session = await eventually(
            lambda: ChargeSession.objects.filter(user=driver, status="active").first(), timeout=10
        )
        assert session is not None and session.ocpp_version == "ocpp2.0.1"

        response = await sync_to_async(api.post)(f"/api/v1/devices/{cp.pk}/finish")
        assert response.status_code == 200, response.content
        session = await sync_to_async(ChargeSession.objects.get)(pk=session.pk)
        assert session.status == "completed" and session.closed_by == "charger"
        purchase = await sync_to_async(Purchase.objects.get)(session=session)
        assert response.json() == {"id": str(purchase.pk)}
        assert {"RequestStartTransaction", "RequestStopTransaction"} <= set(station.commands_received)
