"""End to end for OCPP 2.0.1: OCPP.Core tools' calls to /API/ on a real daphne process,
answered by the simulated 2.0.1 station over a real socket. The same calls as for 1.6
(test_e2e_ocppcore.py) are translated for the station; each test checks the station really
received the 2.0.1 command and applied it, and that the answer is the one seed 004 lists
(Scheduled, OngoingAuthorizedTransaction, UnknownConnector; GetConfiguration's raw 1.6
payload)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, ChargingProfile, Connector, IdToken
from sessions_app.models import ChargeSession, RemoteStartRequest
from tests.support.chargers import eventually, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

V201 = "ocpp2.0.1"


async def _charger(operator_setup, **fields) -> ChargePoint:
    return await sync_to_async(operator_setup[1])(**fields)


def _connector(cp: ChargePoint, number: int) -> Connector:
    return Connector.objects.get(charge_point=cp, connector_id=number)


async def _online_as_v201(cp: ChargePoint) -> None:
    assert await eventually(lambda: ChargePoint.objects.filter(pk=cp.pk, is_online=True, protocol=V201).exists())


async def _charging(tool, station, cp: ChargePoint, connector: int, tag: str) -> ChargeSession:
    """Remote start through /API/ and wait for the station's session to be recorded."""
    await sync_to_async(IdToken.objects.get_or_create)(uid=tag)
    assert await tool.json(f"RemoteStartTransaction/{cp.identity}/{connector}/{tag}") == {"status": "Accepted"}
    session = await eventually(
        lambda: (
            ChargeSession.objects.filter(charge_point=cp, connector__connector_id=connector, status="active")
            .exclude(transaction_id="")
            .first()
        ),
        timeout=10,
    )
    assert session is not None
    assert await eventually(lambda: connector in station.state.transactions)
    return session


async def test_status_lists_the_station_with_protocol_and_connectors(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    offline = await _charger(operator_setup)
    async with simulated201(server, cp.identity, meter_interval=0.3, power_w=7400) as station:
        await _online_as_v201(cp)
        for evse in (1, 2):
            await station.send_status(evse, "Available")
        await _charging(tool, station, cp, 1, "TAG-S201")
        assert await eventually(lambda: (_connector(cp, 1).power_w or 0) > 7000, timeout=10)
        status = await tool.json("Status")
        assert [entry["id"] for entry in status] == [cp.identity]  # not `offline`
        entry = status[0]
        assert entry["protocol"] == V201 and entry["name"] == cp.display_name
        assert set(entry["OnlineConnectors"]) == {"1", "2"}
        one, two = entry["OnlineConnectors"]["1"], entry["OnlineConnectors"]["2"]
        assert one["Status"] == 2 and 7.0 < one["ChargeRateKW"] <= 7.4 and one["MeterKWH"] > 0
        assert one["SoC"] is not None
        assert two["Status"] == 1
    assert offline.identity not in {e["id"] for e in await tool.json("Status")}


async def test_reset_sends_a_201_reset_and_the_station_reboots(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity) as station:
        await _online_as_v201(cp)
        assert await tool.json(f"Reset/{cp.identity}") == {"status": "Accepted"}
        assert station.commands_received == ["Reset"]
        assert station.reset_requested == "OnIdle"  # a 2.0.1 ResetEnumType, not 1.6's Soft
        await asyncio.wait_for(station._connection.wait_closed(), 5)  # idle: it goes down to reboot


async def test_reset_while_charging_is_scheduled(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity, meter_interval=0.3) as station:
        await _online_as_v201(cp)
        session = await _charging(tool, station, cp, 1, "TAG-RS201")
        # Seed 004: "or with OCPP 2.x {"status"="Scheduled"}": the station resets once idle.
        assert await tool.json(f"Reset/{cp.identity}") == {"status": "Scheduled"}
        assert station.reset_requested == "OnIdle"
        await asyncio.sleep(0.3)
        assert 1 in station.state.transactions
        assert await sync_to_async(ChargeSession.objects.filter(pk=session.pk, status="active").exists)()


async def test_unlock_connector_answers(server, tool, operator_setup):
    # Three connectors in our records, two EVSEs on the station: EVSE 3 is unknown to it.
    cp = await _charger(operator_setup, connectors=3)
    async with simulated201(server, cp.identity, connectors=2, meter_interval=0.3) as station:
        await _online_as_v201(cp)
        assert await tool.json(f"UnlockConnector/{cp.identity}/2") == {"status": "Unlocked"}
        assert station.commands_received == ["UnlockConnector"]

        await _charging(tool, station, cp, 1, "TAG-U201")
        assert await tool.json(f"UnlockConnector/{cp.identity}/1") == {"status": "OngoingAuthorizedTransaction"}
        assert 1 in station.state.transactions  # not unlocked: the session goes on

        assert await tool.json(f"UnlockConnector/{cp.identity}/3") == {"status": "UnknownConnector"}
        assert station.commands_received.count("UnlockConnector") == 3
        # Not even in our records: answered as the station would, without asking it.
        assert await tool.json(f"UnlockConnector/{cp.identity}/9") == {"status": "UnknownConnector"}
        assert station.commands_received.count("UnlockConnector") == 3
        assert "RequestStopTransaction" not in station.commands_received


async def test_a_limit_in_watts_lowers_the_power_and_clearing_restores_it(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity, meter_interval=0.3, power_w=11000) as station:
        await _online_as_v201(cp)
        await _charging(tool, station, cp, 1, "TAG-L201")
        assert await eventually(lambda: (_connector(cp, 1).power_w or 0) > 10000, timeout=10)

        assert await tool.json(f"SetChargingLimit/{cp.identity}/1/2000W") == {"status": "Accepted"}
        assert "SetChargingProfile" in station.commands_received
        (entry,) = station.state.profiles.values()
        assert entry["evse_id"] == 1
        profile = entry["profile"]
        assert profile["charging_profile_purpose"] == "TxDefaultProfile"
        assert profile["charging_profile_kind"] == "Recurring" and profile["recurrency_kind"] == "Daily"
        (schedule,) = profile["charging_schedule"]
        assert schedule["duration"] == 86400 and schedule["charging_rate_unit"] == "W"
        assert station.power_limit_w(1) == pytest.approx(2000)
        assert station.power_limit_w(2) == pytest.approx(11000)
        assert await eventually(lambda: 0 < (_connector(cp, 1).power_w or 0) <= 2000, timeout=10)
        row = await sync_to_async(ChargingProfile.objects.get)(charge_point=cp, status="active")
        assert (row.purpose, row.source) == ("TxDefaultProfile", "api")

        assert await tool.json(f"ClearChargingLimit/{cp.identity}/1") == {"status": "Accepted"}
        assert "ClearChargingProfile" in station.commands_received
        assert station.state.profiles == {}
        assert station.power_limit_w(1) == pytest.approx(11000)
        assert await eventually(lambda: (_connector(cp, 1).power_w or 0) > 10000, timeout=10)
        assert not await sync_to_async(ChargingProfile.objects.filter(charge_point=cp, status="active").exists)()
        # Nothing left to clear: the station says Unknown.
        assert await tool.json(f"ClearChargingLimit/{cp.identity}/1") == {"status": "Unknown"}


async def test_a_limit_in_amps_on_connector_0_limits_the_whole_station(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity, power_w=11000) as station:
        await _online_as_v201(cp)
        assert await tool.json(f"SetChargingLimit/{cp.identity}/0/6A") == {"status": "Accepted"}
        (entry,) = station.state.profiles.values()
        assert entry["evse_id"] == 0
        assert entry["profile"]["charging_profile_purpose"] == "ChargingStationMaxProfile"
        assert entry["profile"]["charging_schedule"][0]["charging_rate_unit"] == "A"
        assert station.power_limit_w(1) == pytest.approx(6 * 230 * 3)
        assert station.power_limit_w(2) == pytest.approx(6 * 230 * 3)
        row = await sync_to_async(ChargingProfile.objects.get)(charge_point=cp, status="active")
        assert row.purpose == "ChargingStationMaxProfile"

        assert await tool.json(f"ClearChargingLimit/{cp.identity}/0") == {"status": "Accepted"}
        assert station.state.profiles == {} and station.power_limit_w(1) == pytest.approx(11000)
        assert (await tool.get(f"SetChargingLimit/{cp.identity}/0/12X")).status_code == 400
        assert (await tool.get(f"SetChargingLimit/{cp.identity}/0/-5A")).status_code == 400
        assert (await tool.get(f"SetChargingLimit/{cp.identity}/7/10A")).status_code == 404


def _is_16_configuration(answer: dict) -> bool:
    """The raw 1.6 GetConfiguration.conf shape seed 004 shows, and nothing of 2.0.1's."""
    if set(answer) != {"configurationKey", "unknownKey"}:
        return False
    if not all(isinstance(key, str) for key in answer["unknownKey"]):
        return False
    for entry in answer["configurationKey"]:
        if not (set(entry) <= {"key", "readonly", "value"} and {"key", "readonly"} <= set(entry)):
            return False
        if not (isinstance(entry["key"], str) and isinstance(entry["readonly"], bool)):
            return False
        if "value" in entry and not isinstance(entry["value"], str):
            return False
    return True


async def test_configuration_is_read_and_changed_through_the_device_model(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity) as station:
        await _online_as_v201(cp)
        every = await tool.json(f"GetConfiguration/{cp.identity}")
        assert _is_16_configuration(every), every
        values = {entry["key"]: entry for entry in every["configurationKey"]}
        assert values, every
        # Translated: the station's ItemsPerMessage asked first (not in the device model
        # yet), then every key in one request, as the station takes up to 50.
        assert station.commands_received == ["GetVariables", "GetVariables"]
        # Every key the station answered reads as the station's own value.
        interval = station.variable("SampledDataCtrlr", "TxUpdatedInterval")
        heartbeat = station.variable("OCPPCommCtrlr", "HeartbeatInterval")
        named = {
            key: entry
            for key, entry in values.items()
            if key in {"MeterValueSampleInterval", "SampledDataCtrlr.TxUpdatedInterval"}
        }
        assert [entry["value"] for entry in named.values()] == [interval]
        assert any(entry.get("value") == heartbeat for key, entry in values.items() if "HeartbeatInterval" in key)

        one = await tool.json(f"GetConfiguration/{cp.identity}/MeterValueSampleInterval")
        assert one == {
            "configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": interval}],
            "unknownKey": [],
        }
        readonly = await tool.json(f"GetConfiguration/{cp.identity}/ChargeProfileMaxStackLevel")
        assert readonly["configurationKey"] == [{"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"}]
        unknown = await tool.json(f"GetConfiguration/{cp.identity}/NoSuchKey")
        assert unknown == {"configurationKey": [], "unknownKey": ["NoSuchKey"]}
        # Known to us but not to the station: its UnknownVariable reads as an unknown key.
        missing = await tool.json(f"GetConfiguration/{cp.identity}/ResetRetries")
        assert missing == {"configurationKey": [], "unknownKey": ["ResetRetries"]}

        assert await tool.json(f"ChangeConfiguration/{cp.identity}/MeterValueSampleInterval/42") == {
            "status": "Accepted"
        }
        assert station.commands_received[-1] == "SetVariables"
        assert station.variable("SampledDataCtrlr", "TxUpdatedInterval") == "42"
        one = await tool.json(f"GetConfiguration/{cp.identity}/MeterValueSampleInterval")
        assert one["configurationKey"] == [{"key": "MeterValueSampleInterval", "readonly": False, "value": "42"}]
        # A Component.Variable key reaches any variable of the device model.
        assert await tool.json(f"ChangeConfiguration/{cp.identity}/TxCtrlr.EVConnectionTimeOut/90") == {
            "status": "Accepted"
        }
        assert station.variable("TxCtrlr", "EVConnectionTimeOut") == "90"
        # 1.6 answers for what 2.0.1 says otherwise.
        assert await tool.json(f"ChangeConfiguration/{cp.identity}/ChargeProfileMaxStackLevel/3") == {
            "status": "Rejected"
        }
        assert station.variable("SmartChargingCtrlr", "ProfileStackLevel") == "8"
        assert await tool.json(f"ChangeConfiguration/{cp.identity}/NoSuchKey/1") == {"status": "NotSupported"}
        assert await tool.json(f"ChangeConfiguration/{cp.identity}/ResetRetries/2") == {"status": "NotSupported"}
        assert "GetConfiguration" not in station.commands_received
        assert "ChangeConfiguration" not in station.commands_received


async def test_remote_start_and_stop_run_a_real_session(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity, meter_interval=0.3) as station:
        await _online_as_v201(cp)
        assert (await tool.get(f"RemoteStopTransaction/{cp.identity}/1")).status_code == 424
        session = await _charging(tool, station, cp, 1, "TAG-R201")
        assert "RequestStartTransaction" in station.commands_received
        transaction = station.state.transactions[1]
        assert transaction.id_token["id_token"] == "TAG-R201"
        assert session.transaction_id == transaction.transaction_id and session.id_tag == "TAG-R201"
        assert session.ocpp_version == V201
        # Linked by remoteStartId: the request we recorded, echoed by the station.
        request = await sync_to_async(RemoteStartRequest.objects.get)(charge_point=cp)
        assert transaction.remote_start_id == request.pk == session.remote_start_id
        request = await eventually(lambda: RemoteStartRequest.objects.filter(pk=request.pk, session=session).first())
        assert request is not None and request.status == "started" and request.evse_id == 1
        assert await eventually(
            lambda: (ChargeSession.objects.get(pk=session.pk).meter_last_wh or 0) > session.meter_start_wh, timeout=10
        )

        # Another connector has nothing open.
        assert (await tool.get(f"RemoteStopTransaction/{cp.identity}/2")).status_code == 424
        assert await tool.json(f"RemoteStopTransaction/{cp.identity}/1") == {"status": "Accepted"}
        assert "RequestStopTransaction" in station.commands_received
        done = await eventually(
            lambda: ChargeSession.objects.filter(pk=session.pk, status="completed").first(), timeout=10
        )
        assert done is not None and done.stop_reason == "Remote" and done.energy_wh > 0
        assert 1 not in station.state.transactions
        assert (await tool.get(f"RemoteStopTransaction/{cp.identity}/1")).status_code == 424
        assert station.commands_received.count("RequestStopTransaction") == 1


async def test_remote_start_on_a_busy_connector_is_refused_with_409(server, tool, operator_setup):
    # Issue 18: forwarded, the start could replace the live session; it is refused here.
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity, meter_interval=0.3) as station:
        await _online_as_v201(cp)
        await _charging(tool, station, cp, 1, "TAG-B201")
        busy = await tool.get(f"RemoteStartTransaction/{cp.identity}/1/TAG-B201")
        assert busy.status_code == 409 and busy.json()["status"] == "Rejected", busy.text
        assert "open transaction" in busy.json()["detail"]
        assert station.commands_received.count("RequestStartTransaction") == 1
        assert await sync_to_async(ChargeSession.objects.filter(charge_point=cp, status="active").count)() == 1


async def test_remote_start_takes_a_201_id_token_longer_than_a_16_id_tag(server, tool, operator_setup):
    # 1.6 idTags end at 20 characters; 2.0.1 idTokens go to 36 (an eMAID, a UUID).
    tag = "3f2c9a1e-7b4d-4e8a-9c61-0d5e8f2b7a43"
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid=tag, token_type="Central")
    async with simulated201(server, cp.identity, meter_interval=0.3) as station:
        await _online_as_v201(cp)
        assert await tool.json(f"RemoteStartTransaction/{cp.identity}/2/{tag}") == {"status": "Accepted"}
        session = await eventually(
            lambda: ChargeSession.objects.filter(charge_point=cp, status="active").first(), timeout=10
        )
        assert session is not None and session.id_tag == tag
        assert station.state.transactions[2].id_token == {"id_token": tag, "type": "Central"}
        request = await sync_to_async(RemoteStartRequest.objects.get)(charge_point=cp)
        assert station.state.transactions[2].remote_start_id == request.pk and request.evse_id == 2
        too_long = await tool.get(f"RemoteStartTransaction/{cp.identity}/1/{tag}X")
        assert too_long.status_code == 400
        assert station.commands_received.count("RequestStartTransaction") == 1
