"""The real client controlling a simulated OCPP 1.6 charger through /haserver."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from bluecurrent_api.types import OverrideCurrentPayload

from chargepoints.models import ChargePoint, ChargingProfile
from sessions_app.models import ChargeSession
from tests.bluecurrent.frames import by_object
from tests.support.chargers import PASSWORD, eventually, simulated, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ocpp_url(haserver: str) -> str:
    return haserver.replace("/haserver", "/ocpp/")


async def online(identity: str) -> bool:
    return await eventually(lambda: ChargePoint.objects.get(identity=identity).is_online)


async def test_it_starts_and_stops_a_session_on_the_charger(haserver, home, live_client):
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1, meter_interval=0.5) as charger:
        assert await online(evse)
        await live_client.client.start_session(evse, home.card.uid)
        answer = await live_client.next(lambda m: m["object"] == "START_SESSION" and "result" in m)
        assert answer["success"] is True and answer["error"] == ""
        session = await eventually(
            lambda: ChargeSession.objects.filter(charge_point__identity=evse, status="active").first()
        )
        assert session is not None and session.id_tag == home.card.uid
        assert "RemoteStartTransaction" in charger.commands_received
        # The state change is pushed without asking.
        pushed = await live_client.next(lambda m: m["object"] == "CH_STATUS" and m["data"]["activity"] == "charging")
        assert pushed["data"]["start_datetime"] is not None and pushed["data"]["stop_datetime"] is None

        await live_client.client.stop_session(evse)
        answer = await live_client.next(lambda m: m["object"] == "STOP_SESSION" and "result" in m)
        assert answer["success"] is True
        assert await eventually(lambda: ChargeSession.objects.get(pk=session.pk).status == "completed")
        stopped = await live_client.next(
            lambda m: m["object"] == "CH_STATUS" and m["data"]["stop_datetime"] is not None
        )
        assert stopped["data"]["start_datetime"] <= stopped["data"]["stop_datetime"]


async def test_it_starts_and_stops_a_session_on_an_ocpp_2_0_1_charger(haserver, home, live_client):
    """2.0.1 transaction ids are strings: the stop is a RequestStopTransaction with that
    string (a 1.6 RemoteStop with it failed the 1.6 schema: success false)."""
    evse = home.charge_point.identity
    async with simulated201(ocpp_url(haserver), evse, PASSWORD, meter_interval=0.5) as station:
        assert await online(evse)
        await live_client.client.start_session(evse, home.card.uid)
        answer = await live_client.next(lambda m: m["object"] == "START_SESSION" and "result" in m)
        assert answer["success"] is True and answer["error"] == ""
        session = await eventually(
            lambda: ChargeSession.objects.filter(charge_point__identity=evse, status="active").first(), timeout=10
        )
        assert "RequestStartTransaction" in station.commands_received

        await live_client.client.stop_session(evse)
        answer = await live_client.next(lambda m: m["object"] == "STOP_SESSION" and "result" in m)
        assert answer["success"] is True and answer["error"] == ""
        assert "RequestStopTransaction" in station.commands_received
        assert await eventually(lambda: ChargeSession.objects.get(pk=session.pk).status == "completed", timeout=10)


async def test_stop_without_a_session_says_so(haserver, home, live_client):
    await live_client.client.stop_session(home.charge_point.identity)
    answer = await live_client.next(by_object("STOP_SESSION"))
    assert answer["success"] is False and "no active session" in answer["error"]


async def test_start_with_someone_elses_card_is_refused(haserver, home, live_client):
    await live_client.client.start_session(home.charge_point.identity, "NOT-MY-CARD")
    answer = await live_client.next(by_object("START_SESSION"))
    assert answer["success"] is False and "unknown charge card" in answer["error"]


@pytest.mark.parametrize("method, reset_type", [("reset", "Soft"), ("reboot", "Hard")])
async def test_reset_and_reboot_reach_the_charger(haserver, home, live_client, method, reset_type):
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1) as charger:
        assert await online(evse)
        await getattr(live_client.client, method)(evse)
        name = "SOFT_RESET" if method == "reset" else "REBOOT"
        answer = await live_client.next(lambda m: m["object"] == name and "result" in m)
        assert answer["success"] is True and answer["error"] == ""
        assert charger.reset_requested == reset_type


async def test_an_offline_charger_gets_a_readable_error(haserver, home, live_client):
    await live_client.client.reboot(home.charge_point.identity)
    answer = await live_client.next(lambda m: m["object"] == "REBOOT" and "result" in m)
    assert answer["success"] is False
    assert answer["error"] == f"reboot offline for chargepoint: {home.charge_point.identity}"


async def test_block_changes_availability(haserver, home, live_client):
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1) as charger:
        assert await online(evse)
        await live_client.client.block(evse, True)
        status = await live_client.next(lambda m: m["object"] == "CH_STATUS" and m["data"]["activity"] == "unavailable")
        assert status["evse_id"] == evse
        assert "ChangeAvailability" in charger.commands_received
        assert (await sync_to_async(ChargePoint.objects.get)(pk=home.charge_point.pk)).is_operative is False
        await live_client.client.block(evse, False)
        await live_client.next(lambda m: m["object"] == "CH_STATUS" and m["data"]["activity"] != "unavailable")
        assert (await sync_to_async(ChargePoint.objects.get)(pk=home.charge_point.pk)).is_operative is True


async def test_delayed_and_price_based_charging_set_charging_profiles(haserver, home, live_client):
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1) as charger:
        assert await online(evse)
        await live_client.client.set_delayed_charging_settings(evse, [1, 2, 3], "22:00", "06:00")
        await live_client.client.set_delayed_charging(evse, True)
        settings = await live_client.next(lambda m: m["object"] == "CH_SETTINGS" and m["data"]["smart_charging"])
        assert settings["data"]["delayed_charging"]["value"] is True
        assert settings["data"]["delayed_charging"]["days"] == [1, 2, 3]
        assert await eventually(lambda: 9101 in charger.state.profiles)
        periods = charger.state.profiles[9101]["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"]
        # Monday until 22:00 paused, then full current until Tuesday 06:00, ...
        assert [(p["start_period"], float(p["limit"])) for p in periods[:3]] == [(0, 0.0), (79200, 32.0), (108000, 0.0)]
        assert "ClearChargingProfile" not in charger.commands_received  # saving settings of an off profile
        # Switch to price based charging: delayed off, price on.
        await live_client.client.set_delayed_charging(evse, False)
        await live_client.client.set_price_based_charging(evse, True)
        # The charger stores a profile before it answers, and the server records the answer
        # after that: wait for the settings the server sends once it has recorded it.
        switched = await live_client.next(
            lambda m: m["object"] == "CH_SETTINGS" and m["data"]["price_based_charging"]["value"] is True
        )
        assert switched["data"]["delayed_charging"]["value"] is False
        assert await eventually(lambda: 9102 in charger.state.profiles and 9101 not in charger.state.profiles)
        live = await sync_to_async(
            lambda: list(
                ChargingProfile.objects.filter(charge_point__identity=evse, status="active").values_list(
                    "profile_id", flat=True
                )
            )
        )()
        assert live == [9102]


async def test_override_current_schedules_round_trip(haserver, home, live_client):
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1) as charger:
        assert await online(evse)
        await live_client.client.set_user_override_current(
            OverrideCurrentPayload(
                chargepoints=[evse],
                overridestarttime="17:00",
                overridestartdays=["MO", "TU"],
                overridestoptime="21:00",
                overridestopdays=["MO", "TU"],
                overridevalue=10,
            )
        )
        created = await live_client.next(by_object("POST_SET_OVERRIDE_CURRENT"))
        schedule_id = created["data"]["schedule_id"]
        assert created["data"]["override_start_days"] == ["MO", "TU"]
        assert await eventually(lambda: schedule_id in charger.state.profiles)

        await live_client.client.get_user_override_currents_list()
        listed = await live_client.next(by_object("LIST_OVERRIDE_CURRENT"))
        assert [s["schedule_id"] for s in listed["data"]] == [schedule_id]
        assert listed["data"][0]["charge_points"] == [evse]

        await live_client.client.clear_user_override_current(str(schedule_id))
        await asyncio.wait_for(live_client.client.wait_for_clear_override_current(), 10)
        assert await eventually(lambda: schedule_id not in charger.state.profiles)
