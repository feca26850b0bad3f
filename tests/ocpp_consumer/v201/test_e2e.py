"""OCPP 2.0.1 over real sockets: a real daphne process and the simulated 2.0.1 station."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from ocpp.v201 import call

from chargepoints.models import ChargePoint, ChargePointEvent, Connector, DeviceVariable, IdToken, OcppMessage
from ocpp_consumer import commands
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from sessions_app.models import ChargeSession, ChargingStateChange, RemoteStartRequest, SessionAnomaly, TransactionEvent
from tests.support.chargers import eventually, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def new_station(make_charge_point, **fields):
    return await sync_to_async(make_charge_point)(**fields)


def session_of(transaction_id: str) -> ChargeSession:
    return ChargeSession.objects.get(transaction_id=transaction_id)


def states_of(session: ChargeSession) -> list[str]:
    return list(ChargingStateChange.objects.filter(session=session).values_list("charging_state", flat=True))


async def test_it_runs_a_full_session(server, make_charge_point):
    cp = await new_station(make_charge_point)
    await sync_to_async(IdToken.objects.create)(uid="CARD-OK")
    async with simulated201(server, cp.identity, meter_interval=900) as station:
        assert (await station.authorize("CARD-OK"))["status"] == "Accepted"
        tx = await station.start_transaction(1, "CARD-OK", meter_loop=False)
        started, _ = station.transaction_answers[0]
        for _ in range(100):  # the station records the answer a moment after the server stored the event
            if station.transaction_answers:
                break
            await asyncio.sleep(0.05)
        assert station.transaction_answers[0][1].id_token_info["status"] == "Accepted"
        await station.meter_update(1, seconds=900)
        session = await sync_to_async(session_of)(tx.transaction_id)
        assert session.is_active and session.charging_state == "Charging" and session.ocpp_version == "ocpp2.0.1"
        assert session.energy_wh > 2000 and session.power_w > 0 and session.soc_percent is not None
        await station.set_charging_state(1, "SuspendedEV")
        await station.set_charging_state(1, "Charging")
        await station.meter_update(1, seconds=900)
        ended = await station.stop_transaction(1, "EVDisconnected", trigger_reason="EVCommunicationLost")
    session = await sync_to_async(session_of)(tx.transaction_id)
    assert session.status == "completed" and session.closed_by == "charger"
    assert session.stop_reason == "EVDisconnected" and session.charging_state == "Idle"
    assert session.last_seq_no == 6 and not session.offline
    assert await sync_to_async(states_of)(session) == ["EVConnected", "Charging", "SuspendedEV", "Charging", "Idle"]
    # the Ended answer carries the purchase total (0.00 when free)
    purchase = await sync_to_async(lambda: session.purchase)()
    assert ended.total_cost is not None and Decimal(str(ended.total_cost)) == purchase.total_price
    connector = await sync_to_async(Connector.objects.get)(charge_point=cp, connector_id=1)
    assert connector.status == "Available"
    actions = await sync_to_async(
        lambda: set(OcppMessage.objects.filter(charge_point=cp).values_list("action", "direction"))
    )()
    for action in ("BootNotification", "Authorize", "TransactionEvent", "StatusNotification"):
        assert (action, "in") in actions and (action, "out") in actions


async def test_duplicate_and_out_of_order_events(server, make_charge_point):
    cp = await new_station(make_charge_point)

    def event(seq_no, event_type, minute, trigger, **info):
        return call.TransactionEvent(
            event_type=event_type,
            timestamp=f"2026-03-01T09:{minute:02d}:00Z",
            trigger_reason=trigger,
            seq_no=seq_no,
            transaction_info={"transaction_id": "OOO-1", **info},
            evse={"id": 1, "connector_id": 1},
            meter_value=[
                {
                    "timestamp": f"2026-03-01T09:{minute:02d}:00Z",
                    "sampled_value": [{"value": 1000 + 100 * minute, "unit_of_measure": {"unit": "Wh"}}],
                }
            ],
        )

    async with simulated201(server, cp.identity) as station:
        await station.call(event(0, "Started", 0, "Authorized", charging_state="Charging"))
        await station.call(event(1, "Updated", 10, "MeterValuePeriodic"))
        answer = await station.call(event(1, "Updated", 10, "MeterValuePeriodic"))  # a duplicate: answered
        assert answer is not None
        await station.call(
            event(4, "Ended", 40, "StopAuthorized", stopped_reason="Local", charging_state="EVConnected")
        )
        gap = await sync_to_async(lambda: SessionAnomaly.objects.get(kind="seq_no_gap").detail["missing"])()
        assert gap == [[2, 3]]
        await station.call(event(3, "Updated", 30, "ChargingStateChanged", charging_state="SuspendedEV"))
        await station.call(event(2, "Updated", 20, "MeterValuePeriodic"))
        await station.call(event(5, "Updated", 45, "MeterValuePeriodic"))  # after the Ended
    session = await sync_to_async(session_of)("OOO-1")
    assert await sync_to_async(TransactionEvent.objects.filter(session=session).count)() == 6
    assert session.status == "completed" and session.stop_reason == "Local"
    assert session.meter_start_wh == 1000 and session.meter_stop_wh == 5000  # the 09:45 reading is after the stop
    assert await sync_to_async(states_of)(session) == ["Charging", "SuspendedEV", "EVConnected"]
    anomaly = await sync_to_async(SessionAnomaly.objects.get)(session=session, kind="seq_no_gap")
    assert anomaly.detail["missing"] == [] and "filled_at" in anomaly.detail
    kinds = await sync_to_async(
        lambda: list(
            SessionAnomaly.objects.filter(session=session, kind="out_of_order").values_list("detail", flat=True)
        )
    )()
    assert len(kinds) == 3


async def test_a_replayed_offline_queue(server, make_charge_point):
    """The station loses its link mid-session, keeps charging, ends the session offline,
    and replays everything with offline=true after reconnecting."""
    cp = await new_station(make_charge_point)
    await sync_to_async(IdToken.objects.create)(uid="CARD-OK")
    async with simulated201(server, cp.identity, meter_interval=600) as station:
        tx = await station.start_transaction(1, "CARD-OK", meter_loop=False)
        await station.meter_update(1, seconds=600)
        station.go_offline()
        await asyncio.sleep(0.01)
        for _ in range(3):
            await station.meter_update(1, seconds=600)
        await station.set_charging_state(1, "SuspendedEV")
        await station.stop_transaction(1, "Local")
        state = station.state
    assert len(state.queue) == 5 and all(r.offline for r in state.queue)
    session = await sync_to_async(session_of)(tx.transaction_id)
    assert session.is_active and session.last_seq_no == 2  # nothing of the offline period yet
    async with simulated201(server, cp.identity, state=state, meter_interval=600) as station:
        replayed = await station.replay_queue()
    assert [r.seq_no for r, _ in replayed] == [3, 4, 5, 6, 7] and not state.queue
    assert all(answer is not None for _, answer in replayed)  # every queued event was answered
    assert replayed[-1][1].total_cost is not None
    session = await sync_to_async(session_of)(tx.transaction_id)
    assert session.status == "completed" and session.offline and session.last_seq_no == 7
    assert session.meter_stop_wh == int(state.meters[1]) or abs(session.meter_stop_wh - state.meters[1]) < 1
    assert not await sync_to_async(SessionAnomaly.objects.filter(session=session).exists)()
    offline_rows = await sync_to_async(TransactionEvent.objects.filter(session=session, offline=True).count)()
    assert offline_rows == 5


async def test_remote_start_links_the_session_to_the_request(server, make_charge_point):
    cp = await new_station(make_charge_point)
    token = await sync_to_async(IdToken.objects.create)(uid="APP-1", token_type="Central")
    async with simulated201(server, cp.identity) as station:
        # the 1.6 name, translated: the caller gets a 1.6 answer
        answer = await commands.send_async(
            cp.identity, "RemoteStartTransaction", {"connectorId": 1, "idTag": "APP-1"}, timeout=10
        )
        assert answer == {"status": "Accepted"}
        request = await sync_to_async(RemoteStartRequest.objects.get)(charge_point=cp)
        session = await eventually(lambda: ChargeSession.objects.filter(remote_start_id=request.pk).first())
        assert session is not None and session.transaction_id == request.transaction_id
        request = await sync_to_async(RemoteStartRequest.objects.get)(pk=request.pk)
        assert request.status == "started" and request.session_id == session.pk
        for _ in range(100):  # the station records the answer a moment after the server stored the event
            if station.transaction_answers:
                break
            await asyncio.sleep(0.05)
        assert station.transaction_answers[0][1].id_token_info["status"] == "Accepted"
        # and the 2.0.1 name, with the remoteStartId filled in by us
        answer = await commands.send_async(
            cp.identity,
            "RequestStartTransaction",
            {"idToken": {"idToken": "APP-1", "type": "Central"}, "evseId": 2},
            timeout=10,
        )
        assert answer["status"] == "Accepted" and answer["remoteStartId"] != request.pk
        second = await eventually(
            lambda: (
                ChargeSession.objects.filter(remote_start_id=answer["remoteStartId"])
                .values_list("connector__connector_id", flat=True)
                .first()
            )
        )
        assert second == 2
        stopped = await commands.send_async(
            cp.identity, "RequestStopTransaction", {"transactionId": session.transaction_id}, timeout=10
        )
        assert stopped == {"status": "Accepted"}
        done = await eventually(lambda: ChargeSession.objects.get(pk=session.pk).status == "completed")
        assert done
    session = await sync_to_async(ChargeSession.objects.get)(pk=session.pk)
    assert session.stop_reason == "Remote"
    user_id = await sync_to_async(lambda: token.user_id)()
    assert session.user_id == user_id


async def test_every_command_is_answered(server, make_charge_point):
    cp = await new_station(make_charge_point)
    profile = {
        "id": 11,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}]}
        ],
    }
    native = [
        (
            "GetVariables",
            {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]},
            lambda a: a["getVariableResult"][0]["attributeStatus"] == "Accepted",
        ),
        (
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                        "attributeValue": "30",
                    }
                ]
            },
            lambda a: a["setVariableResult"][0]["attributeStatus"] == "Accepted",
        ),
        ("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}, lambda a: a["status"] == "Accepted"),
        (
            "GetReport",
            {"requestId": 2, "componentVariable": [{"component": {"name": "TxCtrlr"}}]},
            lambda a: a["status"] == "Accepted",
        ),
        ("SetChargingProfile", {"evseId": 1, "chargingProfile": profile}, lambda a: a["status"] == "Accepted"),
        (
            "GetChargingProfiles",
            {"requestId": 3, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}},
            lambda a: a["status"] == "Accepted",
        ),
        (
            "GetCompositeSchedule",
            {"duration": 3600, "evseId": 1},
            lambda a: a["schedule"]["chargingSchedulePeriod"][0]["limit"] == 7400.0,
        ),
        ("ClearChargingProfile", {"chargingProfileId": 11}, lambda a: a["status"] == "Accepted"),
        ("GetTransactionStatus", {}, lambda a: a["messagesInQueue"] is False),
        (
            "ChangeAvailability",
            {"operationalStatus": "Inoperative", "evse": {"id": 2}},
            lambda a: a["status"] == "Accepted",
        ),
        ("UnlockConnector", {"evseId": 1, "connectorId": 1}, lambda a: a["status"] == "Unlocked"),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}, lambda a: a["status"] == "Accepted"),
        (
            "UpdateFirmware",
            {
                "requestId": 4,
                "firmware": {"location": "https://fw.example/f.bin", "retrieveDateTime": "2026-03-01T10:00:00Z"},
            },
            lambda a: a["status"] == "Accepted",
        ),
        (
            "GetLog",
            {"logType": "DiagnosticsLog", "requestId": 5, "log": {"remoteLocation": "https://logs.example/"}},
            lambda a: a["status"] == "Accepted" and a["filename"],
        ),
        ("ClearCache", {}, lambda a: a["status"] == "Accepted"),
        (
            "SendLocalList",
            {
                "versionNumber": 2,
                "updateType": "Full",
                "localAuthorizationList": [
                    {"idToken": {"idToken": "CARD-1", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
                ],
            },
            lambda a: a["status"] == "Accepted",
        ),
        ("GetLocalListVersion", {}, lambda a: a["versionNumber"] == 2),
        (
            "ReserveNow",
            {
                "id": 8,
                "expiryDateTime": "2030-01-01T00:00:00Z",
                "idToken": {"idToken": "CARD-1", "type": "ISO14443"},
                "evseId": 1,
            },
            lambda a: a["status"] == "Accepted",
        ),
        ("CancelReservation", {"reservationId": 8}, lambda a: a["status"] == "Accepted"),
        ("DataTransfer", {"vendorId": "CSMS-Sim", "data": "ping"}, lambda a: a["status"] == "Accepted"),
        ("CostUpdated", {"totalCost": 1.25, "transactionId": "T-x"}, lambda a: a == {}),
        (
            "SetNetworkProfile",
            {
                "configurationSlot": 1,
                "connectionData": {
                    "ocppVersion": "OCPP20",
                    "ocppTransport": "JSON",
                    "ocppCsmsUrl": "wss://csms.example/ocpp/",
                    "messageTimeout": 30,
                    "securityProfile": 2,
                    "ocppInterface": "Wired0",
                },
            },
            lambda a: a["status"] == "Accepted",
        ),
        ("RequestStopTransaction", {"transactionId": "nope"}, lambda a: a["status"] == "Rejected"),
        ("Reset", {"type": "OnIdle", "evseId": 1}, lambda a: a["status"] == "Accepted"),
    ]
    translated16 = [
        (
            "GetConfiguration",
            {"key": ["HeartbeatInterval", "NoSuchKey"]},
            lambda a: a["configurationKey"][0]["key"] == "HeartbeatInterval" and a["unknownKey"] == ["NoSuchKey"],
        ),
        (
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": "20"},
            lambda a: a == {"status": "Accepted"},
        ),
        (
            "ChangeConfiguration",
            {"key": "ChargeProfileMaxStackLevel", "value": "2"},
            lambda a: a == {"status": "Rejected"},
        ),
        ("UnlockConnector", {"connectorId": 1}, lambda a: a == {"status": "Unlocked"}),
        (
            "SetChargingProfile",
            {
                "connectorId": 1,
                "csChargingProfiles": {
                    "chargingProfileId": 12,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
                    },
                },
            },
            lambda a: a == {"status": "Accepted"},
        ),
        (
            "GetCompositeSchedule",
            {"connectorId": 1, "duration": 60},
            lambda a: a["status"] == "Accepted" and a["connectorId"] == 1,
        ),
        ("ClearChargingProfile", {"id": 12}, lambda a: a == {"status": "Accepted"}),
        (
            "TriggerMessage",
            {"requestedMessage": "DiagnosticsStatusNotification"},
            lambda a: a == {"status": "Accepted"},
        ),
        ("GetDiagnostics", {"location": "ftp://logs.example/"}, lambda a: a["fileName"]),
        (
            "UpdateFirmware",
            {"location": "https://fw.example/f.bin", "retrieveDate": "2026-03-01T10:00:00Z"},
            lambda a: a == {},
        ),
        ("SendLocalList", {"listVersion": 5, "updateType": "Full"}, lambda a: a == {"status": "Accepted"}),
        ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}, lambda a: a == {"status": "Accepted"}),
        (
            "ReserveNow",
            {"connectorId": 2, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "CARD-1", "reservationId": 9},
            lambda a: a == {"status": "Accepted"},
        ),
    ]
    async with simulated201(server, cp.identity) as station:
        for action, payload, ok in native + translated16:
            answer = await commands.send_async(cp.identity, action, payload, timeout=10)
            assert ok(answer), (action, answer)
        assert set(station.commands_received) >= {a for a, _, _ in native}
        assert station.variable("SampledDataCtrlr", "TxUpdatedInterval") == "20"
        # the reports the station sent after GetBaseReport are the operator's device model
        assert await eventually(
            lambda: DeviceVariable.objects.filter(charge_point=cp, component_name="EVSE").count() == 2
        )
        assert await eventually(
            lambda: ChargePointEvent.objects.filter(charge_point=cp, kind="charging_profiles_report").exists()
        )
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).firmware_status == "Installed")
        assert await eventually(lambda: ChargePoint.objects.get(pk=cp.pk).diagnostics_status == "Uploaded")
        # last, as it makes the station reboot: Reset Soft becomes Reset OnIdle
        assert await commands.send_async(cp.identity, "Reset", {"type": "Soft"}, timeout=10) == {"status": "Accepted"}
        assert station.reset_requested == "OnIdle"
    # the Reset made the station close its socket (the runner would reconnect)
    assert await eventually(lambda: not ChargePoint.objects.get(pk=cp.pk).is_online)


async def test_schema_violations_get_the_right_callerror_and_the_socket_stays_up(server, make_charge_point):
    cp = await new_station(make_charge_point)
    cfg = ChargerConfig(identity=cp.identity, base_url=server, password="test-charger-password", protocol="ocpp2.0.1")
    async with await connect(cfg) as ws:
        assert ws.subprotocol == "ocpp2.0.1"

        async def exchange(frame) -> list:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

        boot = await exchange(
            [2, "b", "BootNotification", {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}]
        )
        assert boot[2]["status"] == "Accepted"
        good = {
            "eventType": "Started",
            "timestamp": "2026-03-01T09:00:00Z",
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "S-1"},
            "evse": {"id": 1, "connectorId": 1},
        }
        assert (await exchange([2, "1", "TransactionEvent", {**good, "triggerReason": "Bored"}]))[
            2
        ] == "PropertyConstraintViolation"
        assert (await exchange([2, "2", "TransactionEvent", {k: v for k, v in good.items() if k != "seqNo"}]))[
            2
        ] == "OccurrenceConstraintViolation"
        assert (await exchange([2, "3", "TransactionEvent", {**good, "seqNo": "0"}]))[2] == "TypeConstraintViolation"
        assert (await exchange([2, "4", "TransactionEvent", {**good, "extra": True}]))[2] == "FormatViolation"
        assert (await exchange([2, "5", "Teleport", {}]))[2] == "NotImplemented"
        assert (await exchange("not json"))[2] == "RpcFrameworkError"
        assert (await exchange([9, "6", "Heartbeat", {}]))[2] == "MessageTypeNotSupported"
        assert not await sync_to_async(ChargeSession.objects.filter(charge_point=cp).exists)()
        ok = await exchange([2, "7", "TransactionEvent", good])
        assert ok[0] == 3
        assert await sync_to_async(ChargeSession.objects.filter(charge_point=cp, transaction_id="S-1").exists)()


async def test_a_replay_with_a_lost_answer_and_a_transaction_started_while_offline(server, make_charge_point):
    """The answer to one Updated is lost (the station re-queues it), then the link drops:
    the station ends the session, starts the next one on the same EVSE, and replays all."""
    cp = await new_station(make_charge_point)
    await sync_to_async(IdToken.objects.create)(uid="CARD-OK")
    async with simulated201(server, cp.identity, meter_interval=600) as station:
        first = await station.start_transaction(1, "CARD-OK", meter_loop=False)
        await station.meter_update(1, seconds=600)
        lost, _ = station.transaction_answers[-1]
        station.go_offline()
        lost.offline = True
        station.state.queue.append(lost)  # delivered, but the station never saw the answer
        await station.meter_update(1, seconds=600)
        await station.stop_transaction(1, "Local")
        second = await station.start_transaction(1, "CARD-OK", meter_loop=False)
        await station.meter_update(1, seconds=600)
        state = station.state
    assert [r.event_type for r in state.queue] == ["Updated", "Updated", "Ended", "Started", "Updated", "Updated"]
    async with simulated201(server, cp.identity, state=state) as station:
        replayed = await station.replay_queue()
    assert all(answer is not None for _, answer in replayed)
    a = await sync_to_async(session_of)(first.transaction_id)
    b = await sync_to_async(session_of)(second.transaction_id)
    assert a.status == "completed" and a.closed_by == "charger" and a.stop_reason == "Local" and a.offline
    assert b.is_active and b.offline and b.charging_state == "Charging" and b.connector_id == a.connector_id
    assert await sync_to_async(TransactionEvent.objects.filter(session=a).count)() == 5  # the retry added nothing
    assert not await sync_to_async(SessionAnomaly.objects.filter(session__in=[a, b]).exists)()
    assert not await sync_to_async(ChargePointEvent.objects.filter(charge_point=cp, kind="seq_no_reused").exists)()
    # the station's queue is empty: asked after the replay, it says so
    async with simulated201(server, cp.identity, state=state) as station:
        status = await commands.send_async(
            cp.identity, "GetTransactionStatus", {"transactionId": second.transaction_id}, timeout=10
        )
    assert status == {"messagesInQueue": False, "ongoingIndicator": True}


async def test_the_runner_drives_a_201_station_on_its_own(server, make_charge_point):
    """What `simulate_chargers --protocol ocpp2.0.1` runs: boot, RFID sessions with periodic
    Updated events, and a Reset Immediate that ends the session and reconnects."""
    from ocpp_consumer.simulator.runner import run_charger

    cp = await new_station(make_charge_point)
    await sync_to_async(IdToken.objects.create)(uid="SIM-RFID-0001")
    stop = asyncio.Event()
    config = ChargerConfig(
        identity=cp.identity,
        base_url=server,
        password="test-charger-password",
        protocol="ocpp2.0.1",
        connectors=1,
        meter_interval=1,
        rfid_every=4,
    )
    runner = asyncio.get_running_loop().create_task(run_charger(config, stop))
    try:
        assert await eventually(
            lambda: TransactionEvent.objects.filter(
                session__charge_point=cp, trigger_reason="MeterValuePeriodic"
            ).exists(),
            timeout=15,
        )
        session = await eventually(
            lambda: ChargeSession.objects.filter(charge_point=cp, status="active").first(), timeout=10
        )
        if session is not None:
            answer = await commands.send_async(cp.identity, "Reset", {"type": "Immediate"}, timeout=10)
            assert answer == {"status": "Accepted"}
            ended = await eventually(lambda: ChargeSession.objects.get(pk=session.pk).stop_reason, timeout=10)
            assert ended in {"ImmediateReset", "Local"}
        # it comes back: a second boot after the reset
        assert await eventually(
            lambda: OcppMessage.objects.filter(charge_point=cp, action="BootNotification", direction="in").count() >= 2,
            timeout=20,
        )
    finally:
        stop.set()
        await asyncio.wait_for(runner, 15)
    anomalies = await sync_to_async(
        lambda: list(SessionAnomaly.objects.filter(session__charge_point=cp).values_list("kind", flat=True))
    )()
    assert anomalies == []


async def test_list_requests_are_split_by_the_stations_items_per_message(server, make_charge_point):
    # B06.FR.05: never more GetVariableData per message than ItemsPerMessage[GetVariables];
    # the station here rejects a longer list with a CALLERROR, as a strict one may.
    cp = await new_station(make_charge_point)
    async with simulated201(server, cp.identity) as station:
        station.state.variables[("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables")]["value"] = "4"
        station.state.variables[("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables")]["value"] = "2"
        # Every key of the standard table (more than 4 of them): asked in parts, one answer.
        answer = await commands.send_async(cp.identity, "GetConfiguration", {}, timeout=10)
        assert len(answer["configurationKey"]) >= 15
        assert {"key": "HeartbeatInterval", "readonly": False, "value": "300"} in answer["configurationKey"]
        gets = await sync_to_async(list)(
            OcppMessage.objects.filter(charge_point=cp, direction="out", action="GetVariables")
            .order_by("pk")
            .values_list("payload", flat=True)
        )
        # the first asked for the limit itself, the others carried at most 4 items each
        assert gets[0]["getVariableData"][0]["variable"] == {"name": "ItemsPerMessage", "instance": "GetVariables"}
        assert len(gets) > 2 and all(len(p["getVariableData"]) <= 4 for p in gets)
        assert sum(len(p["getVariableData"]) for p in gets[1:]) == len(answer["configurationKey"]) + len(
            answer["unknownKey"]
        )
        # The limit is remembered: the next request (4 known keys, and one we cannot map,
        # answered without asking) is one message, not preceded by the question.
        await commands.send_async(
            cp.identity,
            "GetConfiguration",
            {"key": ["HeartbeatInterval", "ConnectionTimeOut", "ResetRetries", "LocalPreAuthorize", "X"]},
            timeout=10,
        )
        assert (
            await sync_to_async(
                OcppMessage.objects.filter(charge_point=cp, direction="out", action="GetVariables").count
            )()
            == len(gets) + 1
        )
        # SetVariables in parts of 2, results in request order.
        data = [
            {
                "component": {"name": "SampledDataCtrlr"},
                "variable": {"name": "TxUpdatedInterval"},
                "attributeValue": "15",
            },
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attributeValue": "120",
            },
            {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}, "attributeValue": "X"},
        ]
        answer = await commands.send_async(cp.identity, "SetVariables", {"setVariableData": data}, timeout=10)
        assert [r["attributeStatus"] for r in answer["setVariableResult"]] == ["Accepted", "Accepted", "Rejected"]
        assert [r["variable"]["name"] for r in answer["setVariableResult"]] == [
            "TxUpdatedInterval",
            "HeartbeatInterval",
            "Model",
        ]
        assert station.variable("OCPPCommCtrlr", "HeartbeatInterval") == "120"
        # Straight to the station with too many items: its CALLERROR, which the bus avoids.
        with pytest.raises(commands.CallErrorReceived) as error:
            await commands._roundtrip(
                cp.identity,
                await sync_to_async(commands.registry.lookup)(cp.identity),
                "SetVariables",
                {"setVariableData": data},
                timeout=10,
            )
        assert error.value.code == "OccurrenceConstraintViolation"
