"""Commands to chargers through ocpp_consumer.commands, answered by simulated chargers."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, ChargePointEvent, IdToken, OcppMessage
from ocpp_consumer import commands
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from sessions_app.models import ChargeSession
from tests.support.chargers import PASSWORD, eventually, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]},
}

# Every OCPP 1.6 command the central system sends, with a valid payload and the answer
# the simulator gives.
EVERY_COMMAND = [
    ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}, {"status": "Accepted"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE}, {"status": "Accepted"}),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600}, {"status": "Accepted"}),
    ("ClearChargingProfile", {"id": 7}, {"status": "Accepted"}),
    ("DataTransfer", {"vendorId": "CSMS-Sim", "messageId": "ping", "data": "x"}, {"status": "Accepted"}),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}, None),
    ("GetDiagnostics", {"location": "ftp://diag.example/upload"}, None),
    ("GetLocalListVersion", {}, {"listVersion": 0}),
    (
        "SendLocalList",
        {
            "listVersion": 3,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "CARD-1", "idTagInfo": {"status": "Accepted"}}],
        },
        {"status": "Accepted"},
    ),
    (
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "CARD-1", "reservationId": 4},
        {"status": "Accepted"},
    ),
    ("CancelReservation", {"reservationId": 4}, {"status": "Accepted"}),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "CARD-1"}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 999999}, {"status": "Rejected"}),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}, {"status": "Accepted"}),
    ("UnlockConnector", {"connectorId": 2}, {"status": "Unlocked"}),
    ("UpdateFirmware", {"location": "https://fw.example/1.1.bin", "retrieveDate": "2030-01-01T00:00:00Z"}, {}),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
]


def test_every_command_has_a_case():
    from ocpp_consumer.v16.central_system import COMMANDS

    assert {action for action, _, _ in EVERY_COMMAND} == COMMANDS


async def test_every_command_is_answered_by_the_charger(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    await sync_to_async(IdToken.objects.create)(uid="CARD-1")
    async with simulated(server, cp.identity) as charger:
        for action, payload, expected in EVERY_COMMAND:
            if action == "Reset":
                # Side effects the simulator reports back first (a Reset ends them): the
                # remote start opened a session, diagnostics and firmware reported progress.
                assert await eventually(lambda: ChargeSession.objects.filter(charge_point=cp, id_tag="CARD-1").exists())
                assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).firmware_status == "Installed")
                assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).diagnostics_status == "Uploaded")
                configuration = await commands.send_async(
                    cp.identity, "GetConfiguration", {"key": ["MeterValueSampleInterval"]}, timeout=5
                )
                assert configuration["configurationKey"] == [
                    {"key": "MeterValueSampleInterval", "readonly": False, "value": "30"}
                ]
            answer = await commands.send_async(cp.identity, action, payload, timeout=10)
            if expected is not None:
                assert {k: answer.get(k) for k in expected} == expected, action
            assert action in charger.commands_received[-2:]
    journal = await sync_to_async(
        lambda: set(
            OcppMessage.objects.filter(charge_point=cp, direction="out", message_type=2).values_list(
                "action", flat=True
            )
        )
    )()
    assert journal >= {action for action, _, _ in EVERY_COMMAND}
    # The charger's answers name the call they answer, so a journal filtered by action shows both.
    answered = await sync_to_async(
        lambda: set(
            OcppMessage.objects.filter(charge_point=cp, direction="in", message_type=3).values_list("action", flat=True)
        )
    )()
    assert answered >= {action for action, _, _ in EVERY_COMMAND}


async def test_remote_start_and_stop_run_a_session(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    await sync_to_async(IdToken.objects.create)(uid="CARD-R")
    async with simulated(server, cp.identity, meter_interval=0.3):
        assert await commands.send_async(
            cp.identity, "RemoteStartTransaction", {"connectorId": 1, "idTag": "CARD-R"}
        ) == {"status": "Accepted"}
        session = await eventually(lambda: ChargeSession.objects.filter(charge_point=cp, status="active").first())
        assert session is not None
        assert await eventually(
            lambda: (ChargeSession.objects.get(pk=session.pk).meter_last_wh or 0) > session.meter_start_wh
        )
        answer = await commands.send_async(
            cp.identity, "RemoteStopTransaction", {"transactionId": int(session.transaction_id)}
        )
        assert answer == {"status": "Accepted"}
        done = await eventually(lambda: ChargeSession.objects.filter(pk=session.pk, status="completed").first())
    assert done.stop_reason == "Remote" and done.energy_wh > 0


async def test_a_charging_limit_lowers_the_simulated_power(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity, power_w=11000) as charger:
        await commands.send_async(cp.identity, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE})
        assert charger.power_limit_w(1) == pytest.approx(6 * 230 * 3)
        composite = await commands.send_async(cp.identity, "GetCompositeSchedule", {"connectorId": 1, "duration": 60})
        assert composite["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == pytest.approx(4140.0)


async def test_a_command_reaches_a_charger_whose_socket_is_in_another_process(servers, make_charge_point):
    first, second = servers.get("a"), servers.get("b")
    cp = await sync_to_async(make_charge_point)()
    async with simulated(first, cp.identity) as old:
        # The same charger reconnects to the other server: the old connection is closed.
        async with simulated(second, cp.identity) as charger:
            await asyncio.wait_for(old._connection.wait_closed(), 5)
            answer = await commands.send_async(
                cp.identity, "GetConfiguration", {"key": ["NumberOfConnectors"]}, timeout=10
            )
            assert answer["configurationKey"][0]["value"] == "2"
            assert charger.commands_received == ["GetConfiguration"]
            assert old.commands_received == []
            assert (await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)).is_online


async def test_a_charger_that_does_not_answer_gives_a_timeout(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    ws = await connect(ChargerConfig(identity=cp.identity, base_url=server, password=PASSWORD))
    try:
        await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)
        with pytest.raises(commands.CommandTimeout):
            await commands.send_async(cp.identity, "ClearCache", {}, timeout=1)
        frame = json.loads(await asyncio.wait_for(ws.recv(), 2))
        assert frame[0] == 2 and frame[2] == "ClearCache"
        # The connection still works after the timeout.
        await ws.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))[:2] == [3, "hb-1"]
    finally:
        await ws.close()


async def test_a_call_error_from_the_charger_is_raised(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    ws = await connect(ChargerConfig(identity=cp.identity, base_url=server, password=PASSWORD))
    try:
        await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)
        sending = asyncio.ensure_future(commands.send_async(cp.identity, "ClearCache", {}, timeout=5))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps([4, frame[1], "NotImplemented", "no cache here", {"hint": 1}]))
        with pytest.raises(commands.CallErrorReceived) as caught:
            await sending
        assert (caught.value.code, caught.value.description, caught.value.details) == (
            "NotImplemented",
            "no cache here",
            {"hint": 1},
        )
    finally:
        await ws.close()


async def test_an_offline_charger_gives_a_clear_error(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    with pytest.raises(commands.ChargerOffline):
        await commands.send_async(cp.identity, "ClearCache", {}, timeout=2)
    async with simulated(server, cp.identity):
        pass
    await eventually(lambda: not ChargePoint.objects.get(pk=cp.pk).is_online)
    with pytest.raises(commands.ChargerOffline):
        await commands.send_async(cp.identity, "ClearCache", {}, timeout=2)


async def test_payloads_are_validated_before_sending(make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    with pytest.raises(commands.InvalidPayload):
        await commands.send_async(cp.identity, "Reset", {"type": "Sideways"})
    with pytest.raises(commands.InvalidPayload):
        await commands.send_async(cp.identity, "RemoteStartTransaction", {"connectorId": 1})
    with pytest.raises(commands.UnknownAction):
        await commands.send_async(cp.identity, "MakeCoffee", {})
    with pytest.raises(commands.UnknownAction):
        await commands.send_async(cp.identity, "BootNotification", {"chargePointVendor": "x", "chargePointModel": "y"})


def test_the_sync_send_works_from_plain_code(server, make_charge_point):
    cp = make_charge_point()

    async def scenario():
        async with simulated(server, cp.identity):
            return await asyncio.get_running_loop().run_in_executor(
                None, lambda: commands.send(cp.identity, "GetLocalListVersion", {}, timeout=5)
            )

    assert asyncio.run(scenario()) == {"listVersion": 0}


async def test_a_reset_makes_the_charger_reconnect_and_boot(server, make_charge_point):
    from ocpp_consumer.simulator.runner import run_charger

    cp = await sync_to_async(make_charge_point)()
    stop = asyncio.Event()
    config = ChargerConfig(identity=cp.identity, base_url=server, password=PASSWORD)
    runner = asyncio.ensure_future(run_charger(config, stop))
    try:
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).last_boot_at, timeout=10)
        first_boot = (await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)).last_boot_at
        assert await commands.send_async(cp.identity, "Reset", {"type": "Hard"}, timeout=5) == {"status": "Accepted"}
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).last_boot_at > first_boot, timeout=10)
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).is_online)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 10)


async def test_a_stop_for_an_unknown_transaction_is_accepted_and_recorded(server, make_charge_point):
    from ocpp.v16 import call

    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity) as charger:
        answer = await charger.call(
            call.StopTransaction(meter_stop=10, timestamp="2024-05-01T10:00:00Z", transaction_id=424242)
        )
        assert answer is not None
    event = await sync_to_async(ChargePointEvent.objects.get)(charge_point=cp, kind="stop_unknown_transaction")
    assert event.payload["transactionId"] == 424242


async def test_a_retried_start_transaction_gets_the_same_transaction_id(server, make_charge_point):
    from ocpp.v16 import call

    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity) as charger:
        request = call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=100, timestamp="2024-05-01T10:00:00Z")
        first = await charger.call(request)
        second = await charger.call(request)
    assert first.transaction_id == second.transaction_id
    assert first.id_tag_info["status"] == "Invalid"
    assert await sync_to_async(ChargeSession.objects.filter(charge_point=cp).count)() == 1
