"""The unmodified bluecurrent-api client against a live server."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from bluecurrent_api import Client
from bluecurrent_api.exceptions import InvalidApiToken
from bluecurrent_api.types import OverrideCurrentPayload

from chargepoints.models import ChargePoint
from tests.bluecurrent.frames import by_object
from tests.factories import IdTokenFactory, SiteFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def test_it_validates_an_api_token_and_answers_the_customer_id(haserver, home):
    client = Client()
    customer_id = await client.validate_api_token(home.api_token)
    assert customer_id == str(home.driver.pk)
    assert client.websocket.auth_token.startswith("Token ")
    assert await client.get_email() == "driver@example.com"


async def test_it_refuses_an_unknown_api_token(haserver, home):
    with pytest.raises(InvalidApiToken):
        await Client().validate_api_token("homeapi_not-a-token")


async def test_it_lists_only_the_drivers_charge_points_and_cards(live_client, home, make_charge_point):
    other = await sync_to_async(make_charge_point)(site=await sync_to_async(SiteFactory)())
    await sync_to_async(IdTokenFactory)(operator=other.site.operator)  # someone else's card and charger
    await live_client.client.get_charge_points()
    message = await live_client.next(by_object("CHARGE_POINTS"))
    assert [cp["evse_id"] for cp in message["data"]] == [home.charge_point.identity]
    entry = message["data"][0]
    assert entry["model_type"] == "Sim-AC22" and entry["name"] == "Driveway"
    assert entry["activity"] == "offline" and entry["smart_charging"] is False

    await live_client.client.get_charge_cards()
    cards = await live_client.next(by_object("CHARGE_CARDS"))
    assert [card["uid"] for card in cards["data"]] == [home.card.uid]


async def test_it_answers_status_settings_and_grid(live_client, home):
    evse = home.charge_point.identity
    await live_client.client.get_status(evse)
    status = await live_client.next(by_object("CH_STATUS"))
    assert status["data"]["evse_id"] == evse
    assert status["data"]["vehicle_status"] == "standby"
    assert status["data"]["start_datetime"] is None and status["data"]["offline_since"] is None
    assert status["data"]["activity"] == "offline"
    assert status["data"]["max_usage"] == 32  # 22 kW on three phases at 230 V

    await live_client.client.get_settings(evse)
    settings = await live_client.next(by_object("CH_SETTINGS"))
    assert settings["data"]["plug_and_charge"] is False
    assert settings["data"]["linked_charge_cards_only"] is False

    await live_client.client.get_grid_status(evse)
    grid = await live_client.next(by_object("GRID_STATUS"))
    assert grid["data"]["grid_max_current"] == 0 and grid["data"]["grid_avg_current"] == 0


async def test_it_changes_public_charging_and_plug_and_charge(live_client, home):
    evse = home.charge_point.identity
    await live_client.client.set_linked_charge_cards_only(evse, True)
    answer = await live_client.next(by_object("LINKED_CHARGE_CARDS_ONLY"))
    assert answer["result"] is True and answer["evse_id"] == evse
    await live_client.client.set_plug_and_charge(evse, True)
    answer = await live_client.next(by_object("PLUG_AND_CHARGE"))
    assert answer["result"] is True
    cp = await sync_to_async(ChargePoint.objects.get)(pk=home.charge_point.pk)
    assert cp.public_charging is False and cp.plug_and_charge is True


async def test_a_foreign_charge_point_is_refused_and_the_connection_stays(live_client, home, make_charge_point):
    """A request about someone else's charger gets its own refusal; it used to get an ERROR
    frame, on which the client ends its whole connection (Home Assistant then reconnects)."""
    other = await sync_to_async(make_charge_point)(site=await sync_to_async(SiteFactory)())
    await live_client.client.start_session(other.identity, home.card.uid)
    refused = await live_client.next(by_object("START_SESSION"))
    assert refused["success"] is False
    assert refused["error"] == f"not authorized for chargepoint: {other.identity}"
    await live_client.client.get_status(other.identity)
    await live_client.client.get_settings(other.identity)
    await live_client.client.get_grid_status(other.identity)
    await live_client.client.set_plug_and_charge(other.identity, True)
    await live_client.client.block(other.identity, True)
    await live_client.client.reboot(other.identity)
    await live_client.client.set_user_override_current(
        OverrideCurrentPayload(
            chargepoints=[other.identity],
            overridestarttime="17:00",
            overridestartdays=["MO"],
            overridestoptime="21:00",
            overridestopdays=["MO"],
            overridevalue=10,
        )
    )
    rebooted = await live_client.next(by_object("REBOOT"))
    assert rebooted["success"] is False and "not authorized" in rebooted["error"]
    # The connection is still up and serves the driver's own charger.
    await live_client.client.get_status(home.charge_point.identity)
    status = await live_client.next(by_object("CH_STATUS"))
    assert status["evse_id"] == home.charge_point.identity
    assert live_client.client.is_connected()
    assert not any(m.get("evse_id") == other.identity and m["object"] == "CH_STATUS" for m in live_client.seen)
    assert (await sync_to_async(ChargePoint.objects.get)(pk=other.pk)).plug_and_charge is False
