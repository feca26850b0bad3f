"""A charging OCPP 2.0.1 connector counts and reads as charging: its StatusNotification
says only Occupied, the session's chargingState (TransactionEvent) says it charges. A
simulated 2.0.1 station against a real daphne; the portal's pages read what it stored."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import pytest
import websockets
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, Connector
from portal import selectors as ps
from sessions_app.models import ChargeSession
from tests.factories import IdTokenFactory, SiteFactory, StaffFactory
from tests.support.chargers import PASSWORD, eventually, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def charging_201(identity: str) -> bool:
    connector = Connector.objects.get(charge_point__identity=identity, connector_id=1)
    session = ChargeSession.objects.filter(connector=connector, status="active").first()
    return connector.status == "Occupied" and session is not None and session.charging_state == "Charging"


async def test_a_charging_2_0_1_connector_shows_charging_on_the_dashboard_filter_and_map(
    server, make_charge_point, client
):
    site = await sync_to_async(SiteFactory)()
    cp = await sync_to_async(make_charge_point)(site=site, connectors=1, name="Station 201")
    staff = await sync_to_async(StaffFactory)(operator=site.operator, is_superuser=True)
    card = await sync_to_async(IdTokenFactory)(operator=site.operator)
    async with simulated201(server, cp.identity, PASSWORD, meter_interval=1) as station:
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)
        await station.start_transaction(1, card.uid, meter_loop=False)
        assert await eventually(lambda: charging_201(cp.identity))

        scope = ps.Scope(operator_id=site.operator_id, everything=False)
        counts = await sync_to_async(ps.charger_counts)(scope=scope)
        assert counts["charging"] == 1
        charging = await sync_to_async(lambda: list(ps.charge_point_list(scope=scope, status="charging")))()
        assert [c.identity for c in charging] == [cp.identity]
        points = await sync_to_async(ps.map_points)(scope=scope)
        assert [(p["identity"], p["status"]) for p in points] == [(cp.identity, "charging")]

        await sync_to_async(client.force_login)(staff)
        page = await sync_to_async(client.get)("/chargers/?status=charging")
        assert page.status_code == 200
        assert f"{cp.identity}" in page.content.decode() and "1: Charging" in page.content.decode()

        await station.set_charging_state(1, "SuspendedEV")
        assert await eventually(
            lambda: (
                ChargeSession.objects.get(connector__charge_point=cp, status="active").charging_state == "SuspendedEV"
            )
        )
        assert (await sync_to_async(ps.charger_counts)(scope=scope))["charging"] == 1  # suspended still counts

        await station.set_charging_state(1, "EVConnected")
        assert await eventually(
            lambda: (
                ChargeSession.objects.get(connector__charge_point=cp, status="active").charging_state == "EVConnected"
            )
        )
        assert (await sync_to_async(ps.charger_counts)(scope=scope))["charging"] == 0
        points = await sync_to_async(ps.map_points)(scope=scope)
        assert points[0]["status"] != "charging"


@asynccontextmanager
async def portal_socket(ws_base: str, session_cookie: str, identity: str):
    """The portal's live socket on the real server, opened as a logged-in staff member,
    subscribed to one charger."""
    http_base = ws_base.replace("/ocpp/", "")
    async with websockets.connect(
        f"{http_base}/ws/portal/?cp={identity}",
        additional_headers={"Cookie": f"sessionid={session_cookie}", "Origin": http_base.replace("ws://", "http://")},
    ) as socket:
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["subscribed"] == 1
        yield socket


async def next_connector_state(socket, connector_id: int) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 15))
        if message.get("type") == "cp.state" and message.get("connector_id") == connector_id:
            return message


async def test_the_charger_page_dashboard_and_live_socket_show_a_charging_2_0_1_connector_as_charging(
    server, make_charge_point, client
):
    site = await sync_to_async(SiteFactory)()
    cp = await sync_to_async(make_charge_point)(site=site, connectors=1, name="Station 201")
    staff = await sync_to_async(StaffFactory)(operator=site.operator, is_superuser=True)
    card = await sync_to_async(IdTokenFactory)(operator=site.operator)
    await sync_to_async(client.force_login)(staff)
    cookie = client.cookies["sessionid"].value
    async with simulated201(server, cp.identity, PASSWORD, meter_interval=1) as station:
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)
        await station.start_transaction(1, card.uid, meter_loop=False)
        assert await eventually(lambda: charging_201(cp.identity))

        detail = (await sync_to_async(client.get)(f"/chargers/{cp.identity}/")).content.decode()
        assert 'data-field="status">Charging<' in detail and 'data-field="status">Occupied<' not in detail
        live = (await sync_to_async(client.get)(f"/chargers/{cp.identity}/live/")).content.decode()
        assert 'data-field="status">Charging<' in live
        dashboard = (await sync_to_async(client.get)("/dashboard/live/")).content.decode()
        assert 'data-field="status">Charging<' in dashboard and ">Occupied<" not in dashboard
        load = (await sync_to_async(client.get)(f"/sites/{site.pk}/load/live/")).content.decode()
        assert 'data-field="status">Charging<' in load

        # The live socket: a state about the connector (its session now suspended by the EV).
        async with portal_socket(server, cookie, cp.identity) as socket:
            await station.set_charging_state(1, "SuspendedEV")
            message = await next_connector_state(socket, 1)
        assert message["status"] == "SuspendedEV" and message["reported_status"] == "Occupied"
