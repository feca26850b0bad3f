"""START_SESSION through the real client on a simulated two-connector OCPP 1.6 charger: a
free connector is used while another charges, and a transaction we refuse after the
charger accepted the start is reported."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint
from sessions_app.models import ChargeSession
from tests.bluecurrent.frames import by_object
from tests.factories import IdTokenFactory
from tests.support.chargers import PASSWORD, eventually, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ocpp_url(haserver: str) -> str:
    return haserver.replace("/haserver", "/ocpp/")


@pytest.fixture
def two_connectors(home, make_charge_point):
    """A second charger of the driver's site, with two connectors."""
    return make_charge_point(site=home.charge_point.site, connectors=2)


def active_on(identity: str, connector_id: int, id_tag: str) -> ChargeSession | None:
    return ChargeSession.objects.filter(
        charge_point__identity=identity, connector__connector_id=connector_id, id_tag=id_tag, status="active"
    ).first()


async def test_start_uses_a_free_connector_while_another_charges(haserver, home, live_client, two_connectors):
    """It was refused ("session already active") as soon as any connector charged."""
    evse = two_connectors.identity
    neighbour = await sync_to_async(IdTokenFactory)(operator=home.charge_point.site.operator)
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=2) as charger:
        assert await eventually(lambda: ChargePoint.objects.get(identity=evse).is_online)
        await charger.start_transaction(1, neighbour.uid, meter_loop=False)
        assert await eventually(lambda: active_on(evse, 1, neighbour.uid))

        await live_client.client.start_session(evse, home.card.uid)
        answer = await live_client.next(lambda m: m["object"] == "START_SESSION" and "result" in m)
        assert answer["success"] is True and answer["error"] == ""
        assert await eventually(lambda: active_on(evse, 2, home.card.uid))
        assert await eventually(lambda: active_on(evse, 1, neighbour.uid))  # untouched


async def test_start_on_a_charger_with_every_connector_busy_says_so(haserver, home, live_client, two_connectors):
    evse = two_connectors.identity
    cards = [await sync_to_async(IdTokenFactory)(operator=home.charge_point.site.operator) for _ in range(2)]
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=2) as charger:
        assert await eventually(lambda: ChargePoint.objects.get(identity=evse).is_online)
        for number, card in enumerate(cards, start=1):
            await charger.start_transaction(number, card.uid, meter_loop=False)
        assert await eventually(
            lambda: ChargeSession.objects.filter(charge_point__identity=evse, status="active").count() == 2
        )
        await live_client.client.start_session(evse, home.card.uid)
        answer = await live_client.next(by_object("START_SESSION"))
        assert answer["success"] is False and answer["error"] == f"no free connector on chargepoint: {evse}"
        assert "RemoteStartTransaction" not in charger.commands_received


async def test_a_transaction_refused_after_the_charger_accepted_is_reported(
    haserver, home, live_client, two_connectors
):
    """The driver's card already charges on connector 1: the charger accepts the remote start
    on connector 2, we answer its StartTransaction with ConcurrentTx and it stops. The client
    first hears the charger's acceptance, then the refusal (it heard only the acceptance)."""
    evse = two_connectors.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=2) as charger:
        assert await eventually(lambda: ChargePoint.objects.get(identity=evse).is_online)
        await charger.start_transaction(1, home.card.uid, meter_loop=False)
        assert await eventually(lambda: active_on(evse, 1, home.card.uid))

        await live_client.client.start_session(evse, home.card.uid)
        accepted = await live_client.next(lambda m: m["object"] == "START_SESSION" and "result" in m)
        assert accepted["success"] is True
        refused = await live_client.next(lambda m: m["object"] == "START_SESSION" and "result" in m)
        assert refused["success"] is False
        assert refused["error"] == f"start_session concurrenttx for chargepoint: {evse}"
        refused_session = await sync_to_async(
            lambda: ChargeSession.objects.get(charge_point__identity=evse, connector__connector_id=2)
        )()
        assert refused_session.authorization == "ConcurrentTx"
