"""What the central system keeps from a charger's answers to commands (ocpp_consumer.answers):
configuration keys and charging profiles, whoever sent the command."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargingProfile, ConfigurationKey
from ocpp_consumer import answers, commands
from tests.support.chargers import simulated

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROFILE = {
    "chargingProfileId": 11,
    "stackLevel": 2,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]},
}


def _keys(cp) -> dict:
    return {k.key: (k.value, k.readonly) for k in ConfigurationKey.objects.filter(charge_point=cp)}


def _profiles(cp) -> list:
    return list(
        ChargingProfile.objects.filter(charge_point=cp)
        .order_by("id")
        .values_list("profile_id", "connector_id", "status", "source")
    )


async def test_get_configuration_answers_are_stored_and_a_change_updates_them(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity):
        await commands.send_async(
            cp.identity, "GetConfiguration", {"key": ["HeartbeatInterval", "NumberOfConnectors", "Nope"]}
        )
        keys = await sync_to_async(_keys)(cp)
        assert keys["NumberOfConnectors"] == ("2", True)
        assert set(keys) == {"HeartbeatInterval", "NumberOfConnectors"}
        assert await commands.send_async(
            cp.identity, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "123"}
        ) == {"status": "Accepted"}
        assert (await sync_to_async(_keys)(cp))["HeartbeatInterval"][0] == "123"
        # The stored value is what the charger reports on the next read.
        await commands.send_async(cp.identity, "GetConfiguration", {})
        keys = await sync_to_async(_keys)(cp)
        assert keys["HeartbeatInterval"][0] == "123" and len(keys) > 2


async def test_a_rejected_configuration_change_leaves_the_stored_value(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity):
        await commands.send_async(cp.identity, "GetConfiguration", {"key": ["NumberOfConnectors"]})
        answer = await commands.send_async(
            cp.identity, "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "9"}
        )
        assert answer["status"] != "Accepted"
        assert (await sync_to_async(_keys)(cp))["NumberOfConnectors"][0] == "2"


async def test_charging_profile_answers_create_and_clear_profile_rows(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity):
        await commands.send_async(
            cp.identity, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE}, source="portal"
        )
        assert await sync_to_async(_profiles)(cp) == [(11, 1, "active", "portal")]
        row = await sync_to_async(ChargingProfile.objects.get)(charge_point=cp)
        assert (row.purpose, row.stack_level, row.charging_rate_unit, row.schedule) == (
            "TxDefaultProfile",
            2,
            "A",
            PROFILE["chargingSchedule"],
        )
        # Same purpose and stack level on the same connector: the charger replaces it.
        await commands.send_async(
            cp.identity,
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": {**PROFILE, "chargingProfileId": 12}},
        )
        assert await sync_to_async(_profiles)(cp) == [(11, 1, "cleared", "portal"), (12, 1, "active", "command")]
        # Connector 5 does not exist on the simulated charger: Rejected, recorded as such.
        answer = await commands.send_async(
            cp.identity,
            "SetChargingProfile",
            {"connectorId": 5, "csChargingProfiles": {**PROFILE, "chargingProfileId": 13}},
        )
        assert answer == {"status": "Rejected"}
        assert (await sync_to_async(_profiles)(cp))[-1] == (13, 5, "rejected", "command")
        assert await commands.send_async(cp.identity, "ClearChargingProfile", {"id": 12}) == {"status": "Accepted"}
        assert [status for *_, status, _ in await sync_to_async(_profiles)(cp)] == ["cleared", "cleared", "rejected"]


async def test_a_profile_recorded_as_pending_by_the_caller_is_updated_not_duplicated(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    await sync_to_async(ChargingProfile.objects.create)(
        charge_point=cp,
        connector_id=0,
        profile_id=11,
        stack_level=2,
        purpose="TxDefaultProfile",
        charging_rate_unit="A",
        schedule=PROFILE["chargingSchedule"],
        status="pending",
        source="home-api:delayed",
    )
    async with simulated(server, cp.identity):
        await commands.send_async(cp.identity, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": PROFILE})
    assert await sync_to_async(_profiles)(cp) == [(11, 0, "active", "home-api:delayed")]


def test_a_failing_recorder_does_not_hide_the_answer(db, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setitem(answers.RECORDERS, "GetConfiguration", broken)
    answers.record_sync("CP-X", "GetConfiguration", {}, {"configurationKey": []})
    assert "could not record the answer to GetConfiguration" in caplog.text


PROFILE_201 = {
    "id": 21,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}]}
    ],
}


async def test_native_201_profile_answers_create_and_clear_profile_rows(server, make_charge_point):
    from tests.support.chargers import simulated201

    cp = await sync_to_async(make_charge_point)()
    async with simulated201(server, cp.identity):
        answer = await commands.send_async(
            cp.identity, "SetChargingProfile", {"evseId": 1, "chargingProfile": PROFILE_201}, source="api"
        )
        assert answer == {"status": "Accepted"}
        assert await sync_to_async(_profiles)(cp) == [(21, 1, "active", "api")]
        row = await sync_to_async(ChargingProfile.objects.get)(charge_point=cp)
        assert (row.purpose, row.stack_level, row.charging_rate_unit, row.schedule) == (
            "TxDefaultProfile",
            1,
            "W",
            PROFILE_201["chargingSchedule"][0],
        )
        # The same request in 1.6 words, translated for the station: recorded the same way.
        await commands.send_async(
            cp.identity,
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": {**PROFILE, "chargingProfileId": 22}},
        )
        assert (await sync_to_async(_profiles)(cp))[-1] == (22, 1, "active", "command")
        answer = await commands.send_async(
            cp.identity, "ClearChargingProfile", {"chargingProfileCriteria": {"evseId": 1, "stackLevel": 1}}
        )
        assert answer == {"status": "Accepted"}
        assert await sync_to_async(_profiles)(cp) == [(21, 1, "cleared", "api"), (22, 1, "active", "command")]
        assert await commands.send_async(cp.identity, "ClearChargingProfile", {"chargingProfileId": 22}) == {
            "status": "Accepted"
        }
        assert [status for _, _, status, _ in await sync_to_async(_profiles)(cp)] == ["cleared", "cleared"]


def test_a_201_station_gets_no_configuration_keys_from_answers(db, make_charge_point):
    cp = make_charge_point()
    answers.record_sync(
        cp.identity,
        "GetConfiguration",
        {},
        {"configurationKey": [{"key": "K", "readonly": False}]},
        protocol="ocpp2.0.1",
    )
    assert _keys(cp) == {}


def test_an_unanswered_profile_is_pending_and_replaces_the_live_one_of_its_id(db, make_charge_point):
    cp = make_charge_point()
    payload = {"connectorId": 1, "csChargingProfiles": PROFILE}
    answers.record_sync(cp.identity, "SetChargingProfile", payload, {"status": "Accepted"}, source="api")
    answers.record_sync(cp.identity, "SetChargingProfile", payload, None, source="api")
    assert _profiles(cp) == [(11, 1, "cleared", "api"), (11, 1, "pending", "api")]
    # No answer to a clear: nothing is known, nothing changes.
    answers.record_sync(cp.identity, "ClearChargingProfile", {"id": 11}, None)
    assert _profiles(cp)[-1] == (11, 1, "pending", "api")
    # A rejection leaves the previous one in force.
    answers.record_sync(
        cp.identity,
        "SetChargingProfile",
        {**payload, "csChargingProfiles": {**PROFILE, "chargingProfileId": 12}},
        answers.REJECTED,
        source="api",
    )
    assert _profiles(cp)[-1] == (12, 1, "rejected", "api")
    assert _profiles(cp)[-2] == (11, 1, "pending", "api")
