"""End to end: OCPP.Core tools' calls to /API/ on a real daphne process, answered by
simulated chargers over real sockets; each test checks the charger really applied it."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, ChargingProfile, Connector, IdToken
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from sessions_app.models import ChargeSession
from tests.factories import OperatorFactory, SiteFactory
from tests.operator_api.tools import OcppCoreTool
from tests.support.chargers import PASSWORD, eventually, simulated
from tests.support.clients import make_api_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _charger(operator_setup, **fields) -> ChargePoint:
    return await sync_to_async(operator_setup[1])(**fields)


def _connector(cp: ChargePoint, number: int) -> Connector:
    return Connector.objects.get(charge_point=cp, connector_id=number)


async def test_status_shows_connected_chargers_with_live_readings(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    offline = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-S")
    async with simulated(server, cp.identity, meter_interval=0.3, power_w=7400):
        assert await tool.json(f"RemoteStartTransaction/{cp.identity}/1/TAG-S") == {"status": "Accepted"}
        assert await eventually(lambda: (_connector(cp, 1).power_w or 0) > 7000, timeout=10)
        status = await tool.json("Status")
        assert [entry["id"] for entry in status] == [cp.identity]  # not `offline`
        entry = status[0]
        assert entry["protocol"] == "ocpp1.6"
        one, two = entry["OnlineConnectors"]["1"], entry["OnlineConnectors"]["2"]
        assert one["Status"] == 2 and 7.0 < one["ChargeRateKW"] <= 7.4 and one["MeterKWH"] > 0
        assert two["Status"] == 1
    assert offline.identity not in {e["id"] for e in await tool.json("Status")}


async def test_change_configuration_is_applied_and_read_back(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated(server, cp.identity) as charger:
        assert await tool.json(f"ChangeConfiguration/{cp.identity}/MeterValueSampleInterval/42") == {
            "status": "Accepted"
        }
        assert charger.config_value("MeterValueSampleInterval") == "42"
        one = await tool.json(f"GetConfiguration/{cp.identity}/MeterValueSampleInterval")
        assert one["configurationKey"] == [{"key": "MeterValueSampleInterval", "readonly": False, "value": "42"}]
        every = await tool.json(f"GetConfiguration/{cp.identity}")
        assert {"NumberOfConnectors", "MeterValueSampleInterval"} <= {k["key"] for k in every["configurationKey"]}
        unknown = await tool.json(f"GetConfiguration/{cp.identity}/NoSuchKey")
        assert unknown["unknownKey"] == ["NoSuchKey"]
        assert charger.commands_received.count("GetConfiguration") == 3


async def test_a_charging_limit_lowers_the_power_and_clearing_restores_it(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-L")
    async with simulated(server, cp.identity, meter_interval=0.3, power_w=11000) as charger:
        assert await tool.json(f"RemoteStartTransaction/{cp.identity}/1/TAG-L") == {"status": "Accepted"}
        assert await eventually(lambda: (_connector(cp, 1).power_w or 0) > 10000, timeout=10)

        assert await tool.json(f"SetChargingLimit/{cp.identity}/1/2000W") == {"status": "Accepted"}
        assert charger.power_limit_w(1) == pytest.approx(2000)
        assert charger.power_limit_w(2) == pytest.approx(11000)
        assert await eventually(lambda: 0 < (_connector(cp, 1).power_w or 0) <= 2000, timeout=10)
        profile = await sync_to_async(ChargingProfile.objects.get)(charge_point=cp, status="active")
        assert (profile.purpose, profile.recurrency_kind, profile.schedule["duration"]) == (
            "TxDefaultProfile",
            "Daily",
            86400,
        )
        # One row for one limit, named after the API that set it.
        assert await sync_to_async(
            lambda: list(ChargingProfile.objects.filter(charge_point=cp).values_list("status", "source"))
        )() == [("active", "api")]

        assert await tool.json(f"ClearChargingLimit/{cp.identity}/1") == {"status": "Accepted"}
        assert charger.power_limit_w(1) == pytest.approx(11000)
        assert await eventually(lambda: (_connector(cp, 1).power_w or 0) > 10000, timeout=10)
        assert not await sync_to_async(ChargingProfile.objects.filter(charge_point=cp, status="active").exists)()
        # Nothing left to clear: the charger says Unknown.
        assert await tool.json(f"ClearChargingLimit/{cp.identity}/1") == {"status": "Unknown"}


async def test_a_limit_in_amps_on_connector_0_limits_every_connector(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated(server, cp.identity, power_w=11000) as charger:
        assert await tool.json(f"SetChargingLimit/{cp.identity}/0/6A") == {"status": "Accepted"}
        assert charger.power_limit_w(1) == pytest.approx(6 * 230 * 3)
        assert charger.power_limit_w(2) == pytest.approx(6 * 230 * 3)
        profile = next(iter(charger.state.profiles.values()))
        assert profile["cs_charging_profiles"]["charging_profile_purpose"] == "ChargePointMaxProfile"
        assert (await tool.get(f"SetChargingLimit/{cp.identity}/0/12X")).status_code == 400
        assert (await tool.get(f"SetChargingLimit/{cp.identity}/0/-5A")).status_code == 400
        assert (await tool.get(f"SetChargingLimit/{cp.identity}/7/10A")).status_code == 404


async def test_remote_start_and_stop_run_a_real_session(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-R")
    async with simulated(server, cp.identity, meter_interval=0.3):
        assert (await tool.get(f"RemoteStopTransaction/{cp.identity}/1")).status_code == 424
        assert await tool.json(f"RemoteStartTransaction/{cp.identity}/1/TAG-R") == {"status": "Accepted"}
        session = await eventually(lambda: ChargeSession.objects.filter(charge_point=cp, status="active").first())
        assert session is not None and session.id_tag == "TAG-R"
        assert await eventually(
            lambda: (ChargeSession.objects.get(pk=session.pk).meter_last_wh or 0) > session.meter_start_wh
        )
        assert await tool.json(f"RemoteStopTransaction/{cp.identity}/1") == {"status": "Accepted"}
        done = await eventually(lambda: ChargeSession.objects.filter(pk=session.pk, status="completed").first())
        assert done is not None and done.stop_reason == "Remote" and done.energy_wh > 0
        assert (await tool.get(f"RemoteStopTransaction/{cp.identity}/1")).status_code == 424


async def test_unlock_ends_the_session_on_that_connector(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-U")
    async with simulated(server, cp.identity, meter_interval=0.3) as charger:
        assert await tool.json(f"RemoteStartTransaction/{cp.identity}/2/TAG-U") == {"status": "Accepted"}
        session = await eventually(lambda: ChargeSession.objects.filter(charge_point=cp, status="active").first())
        assert await tool.json(f"UnlockConnector/{cp.identity}/2") == {"status": "Unlocked"}
        done = await eventually(lambda: ChargeSession.objects.filter(pk=session.pk, status="completed").first())
        assert done.stop_reason == "UnlockCommand"
        assert "UnlockConnector" in charger.commands_received


async def test_reset_reboots_the_charger(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated(server, cp.identity) as charger:
        assert await tool.json(f"Reset/{cp.identity}") == {"status": "Accepted"}
        assert charger.reset_requested == "Soft"
        await asyncio.wait_for(charger._connection.wait_closed(), 5)  # it goes down to reboot


async def test_keys_and_operators(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    foreign = await sync_to_async(lambda: ChargePoint.objects.create(identity=f"{cp.identity}-x", site=SiteFactory()))()
    async with simulated(server, cp.identity):
        assert (await OcppCoreTool(server, None).get("Status")).status_code == 401
        assert (await OcppCoreTool(server, "wrong").get(f"Reset/{cp.identity}")).status_code == 401
        other = await sync_to_async(make_api_key)(await sync_to_async(OperatorFactory)())
        assert (await OcppCoreTool(server, other).get(f"Reset/{cp.identity}")).status_code == 404
        assert await OcppCoreTool(server, other).json("Status") == []
        assert (await tool.get(f"Reset/{foreign.identity}")).status_code == 404
        # A connector it does not have: answered as a 2.0.1 station would (issue 18).
        assert await tool.json(f"UnlockConnector/{cp.identity}/9") == {"status": "UnknownConnector"}
        assert (await tool.get(f"UnlockConnector/{foreign.identity}/1")).status_code == 404


async def test_a_disconnected_charger_is_not_found(server, tool, operator_setup):
    cp = await _charger(operator_setup)
    answer = await tool.get(f"Reset/{cp.identity}")
    assert answer.status_code == 404 and answer.json()["status"] == "Offline"


async def test_a_silent_charger_gives_status_timeout(servers, operator_setup):
    # A server whose command timeout is 1 s stands in for OCPP.Core's 60 s.
    server = servers.get("short-timeout", OCPP_COMMAND_TIMEOUT="1")
    tool = OcppCoreTool(server, operator_setup[0])
    cp = await _charger(operator_setup)
    ws = await connect(ChargerConfig(identity=cp.identity, base_url=server, password=PASSWORD))
    try:
        await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)
        assert await tool.json(f"Reset/{cp.identity}") == {"status": "Timeout"}
        frame = json.loads(await asyncio.wait_for(ws.recv(), 2))
        assert frame[2] == "Reset"  # it was sent; the charger just never answered
    finally:
        await ws.close()
