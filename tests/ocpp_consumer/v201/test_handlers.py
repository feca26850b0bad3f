"""The 2.0.1 handler class fed raw frames through an in-memory consumer (no socket)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, ChargePointEvent, Connector, DeviceVariable, OcppMessage
from ocpp_consumer.v201.central_system import CentralSystem201
from sessions_app.models import ChargeSession
from tests.factories import ChargePointFactory, IdTokenFactory
from tests.ocpp_consumer.v201.frames import event, ts

pytestmark = pytest.mark.django_db(transaction=True)


class FakeConsumer:
    def __init__(self) -> None:
        self.sent: list = []
        self.closed: int | None = None
        self.registry_restores = 0

    async def send(self, text_data: str) -> None:
        self.sent.append(json.loads(text_data))

    async def close(self, code: int = 1000) -> None:
        self.closed = code

    def restore_registration_soon(self) -> None:
        self.registry_restores += 1


async def station(**fields):
    cp = await sync_to_async(ChargePointFactory)(protocol="ocpp2.0.1", **fields)
    consumer = FakeConsumer()
    return cp, consumer, CentralSystem201(cp.identity, consumer, cp.pk, cp.registration_status)


async def call(handler, consumer, action: str, payload, unique_id: str = "1"):
    await handler.route_frame(json.dumps([2, unique_id, action, payload]))
    return consumer.sent[-1]


async def test_boot_heartbeat_and_status_notification():
    cp, consumer, handler = await station()
    answer = await call(
        handler,
        consumer,
        "BootNotification",
        {
            "chargingStation": {"model": "M1", "vendorName": "V1", "serialNumber": "S1", "modem": {"iccid": "89"}},
            "reason": "PowerUp",
        },
    )
    assert answer[0] == 3 and answer[2]["status"] == "Accepted" and answer[2]["interval"] > 0
    cp = await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)
    assert (cp.vendor, cp.model, cp.serial_number, cp.iccid) == ("V1", "M1", "S1", "89")
    await sync_to_async(ChargePoint.objects.filter(pk=cp.pk).update)(last_seen_at=None, is_online=False)
    assert (await call(handler, consumer, "Heartbeat", {}))[2]["currentTime"]
    # The Heartbeat's last-seen write went in with the frame's group commit, before the answer.
    cp = await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)
    assert cp.is_online and cp.last_seen_at is not None
    assert consumer.registry_restores == 1
    await call(
        handler,
        consumer,
        "StatusNotification",
        {"timestamp": ts(0), "connectorStatus": "Occupied", "evseId": 2, "connectorId": 1},
    )
    connector = await sync_to_async(Connector.objects.select_related("evse").get)(charge_point=cp, evse__evse_id=2)
    assert connector.status == "Occupied" and connector.connector_id == 2


async def test_authorize_answers_id_token_info_for_each_token_type():
    cp, consumer, handler = await station()
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    assert (await call(handler, consumer, "Authorize", {"idToken": {"idToken": "CARD-1", "type": "ISO14443"}}))[2] == {
        "idTokenInfo": {"status": "Accepted"}
    }
    assert (await call(handler, consumer, "Authorize", {"idToken": {"idToken": "X", "type": "eMAID"}}))[2][
        "idTokenInfo"
    ]["status"] == "Unknown"
    assert (await call(handler, consumer, "Authorize", {"idToken": {"idToken": "", "type": "NoAuthorization"}}))[2][
        "idTokenInfo"
    ]["status"] == "Accepted"


async def test_transaction_event_answers_id_token_info_and_stores_the_session():
    cp, consumer, handler = await station()
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    answer = await call(
        handler,
        consumer,
        "TransactionEvent",
        event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=100),
    )
    assert answer[0] == 3 and answer[2]["idTokenInfo"]["status"] == "Accepted"
    answer = await call(
        handler, consumer, "TransactionEvent", event("Ended", 1, 5, "StopAuthorized", reason="Local", wh=900)
    )
    assert answer[0] == 3
    session = await sync_to_async(ChargeSession.objects.get)(charge_point=cp, transaction_id="TX-1")
    assert session.status == "completed" and session.energy_wh == 800
    # the frame and the answer were journalled
    assert await sync_to_async(OcppMessage.objects.filter(charge_point=cp, action="TransactionEvent").count)() == 4


async def test_a_schema_violation_gets_the_right_callerror_and_the_handler_keeps_working():
    cp, consumer, handler = await station()
    bad = event("Started", 0, 0, "Authorized")
    bad["triggerReason"] = "Bored"
    answer = await call(handler, consumer, "TransactionEvent", bad, "bad-1")
    assert answer[:3] == [4, "bad-1", "PropertyConstraintViolation"]
    missing = event("Started", 0, 0, "Authorized")
    del missing["seqNo"]
    assert (await call(handler, consumer, "TransactionEvent", missing, "bad-2"))[2] == "OccurrenceConstraintViolation"
    wrong_type = event("Started", 0, 0, "Authorized")
    wrong_type["seqNo"] = "zero"
    assert (await call(handler, consumer, "TransactionEvent", wrong_type, "bad-3"))[2] == "TypeConstraintViolation"
    extra = event("Started", 0, 0, "Authorized")
    extra["surprise"] = 1
    assert (await call(handler, consumer, "TransactionEvent", extra, "bad-4"))[2] == "FormatViolation"
    assert (await call(handler, consumer, "Teleport", {}, "bad-5"))[2] == "NotImplemented"
    assert (
        await call(
            handler,
            consumer,
            "Get15118EVCertificate",
            {"iso15118SchemaVersion": "x", "action": "Install", "exiRequest": "x"},
            "bad-6",
        )
    )[2] == "NotSupported"
    await handler.route_frame('[2, "bad-7", ')
    assert consumer.sent[-1][:3] == [4, "-1", "RpcFrameworkError"]
    await handler.route_frame('[7, "bad-8", "Heartbeat", {}]')
    assert consumer.sent[-1][:3] == [4, "bad-8", "MessageTypeNotSupported"]
    assert consumer.closed is None
    assert (await call(handler, consumer, "Heartbeat", {}, "ok"))[0] == 3
    assert not await sync_to_async(ChargeSession.objects.exists)()


async def test_notify_report_is_stored_as_device_variables():
    cp, consumer, handler = await station()
    report = [
        {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "HeartbeatInterval"},
            "variableAttribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
            "variableCharacteristics": {"dataType": "integer", "unit": "s", "supportsMonitoring": False},
        },
        {
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Power"},
            "variableAttribute": [
                {"type": "Actual", "value": "22000", "mutability": "ReadOnly"},
                {"type": "MaxSet", "value": "22000"},
            ],
            "variableCharacteristics": {"dataType": "decimal", "unit": "W", "supportsMonitoring": True},
        },
    ]
    await call(
        handler,
        consumer,
        "NotifyReport",
        {"requestId": 7, "generatedAt": ts(0), "seqNo": 0, "tbc": True, "reportData": report},
    )
    report[0]["variableAttribute"][0]["value"] = "60"
    await call(
        handler, consumer, "NotifyReport", {"requestId": 7, "generatedAt": ts(0), "seqNo": 1, "reportData": report[:1]}
    )
    rows = await sync_to_async(
        lambda: list(
            DeviceVariable.objects.filter(charge_point=cp)
            .order_by("component_name", "attribute_type")
            .values_list("component_name", "evse_id", "variable_name", "attribute_type", "value", "mutability")
        )
    )()
    assert rows == [
        ("EVSE", 1, "Power", "Actual", "22000", "ReadOnly"),
        ("EVSE", 1, "Power", "MaxSet", "22000", "ReadWrite"),
        ("OCPPCommCtrlr", 0, "HeartbeatInterval", "Actual", "60", "ReadWrite"),
    ]
    from chargepoints.device_model import device_model_tree

    tree = await sync_to_async(device_model_tree)(charge_point=cp.pk)
    assert tree["EVSE@1"]["Power"]["MaxSet"] == "22000"
    assert await sync_to_async(ChargePointEvent.objects.filter(charge_point=cp, kind="device_report").count)() == 1


async def test_notifications_become_charger_events():
    cp, consumer, handler = await station()
    frames = [
        ("SecurityEventNotification", {"type": "TamperDetectionActivated", "timestamp": ts(0)}),
        ("FirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 2}),
        (
            "NotifyEvent",
            {
                "generatedAt": ts(0),
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": ts(0),
                        "trigger": "Alerting",
                        "actualValue": "Faulted",
                        "eventNotificationType": "PreconfiguredMonitor",
                        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            },
        ),
        ("DataTransfer", {"vendorId": "acme", "messageId": "hello"}),
        (
            "ReportChargingProfiles",
            {
                "requestId": 3,
                "chargingLimitSource": "CSO",
                "evseId": 1,
                "chargingProfile": [
                    {
                        "id": 5,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Absolute",
                        "chargingSchedule": [
                            {
                                "id": 1,
                                "chargingRateUnit": "W",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
                            }
                        ],
                    }
                ],
            },
        ),
        ("NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True}, "evseId": 1}),
        ("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}),
        (
            "MeterValues",
            {
                "evseId": 1,
                "meterValue": [
                    {"timestamp": ts(0), "sampledValue": [{"value": 12.5, "unitOfMeasure": {"unit": "kWh"}}]}
                ],
            },
        ),
    ]
    for n, (action, payload) in enumerate(frames):
        answer = await call(handler, consumer, action, payload, str(n))
        assert answer[0] == 3, (action, answer)
    assert consumer.sent[4][2] == {"status": "UnknownVendorId"}
    kinds = await sync_to_async(
        lambda: set(ChargePointEvent.objects.filter(charge_point=cp).values_list("kind", flat=True))
    )()
    assert {
        "security_event",
        "firmware_status",
        "diagnostics_status",
        "notify_event",
        "data_transfer",
        "charging_profiles_report",
        "charging_limit",
        "charging_limit_cleared",
    } <= kinds
    connector = await sync_to_async(Connector.objects.get)(charge_point=cp, connector_id=1)
    assert connector.meter_wh == 12500
    state = await sync_to_async(DeviceVariable.objects.get)(charge_point=cp, component_name="Connector")
    assert state.value == "Faulted" and state.evse_id == 1 and state.connector_id == 1


async def test_the_running_cost_is_priced_once_per_interval_not_for_every_updated_frame(settings):
    """Pricing reads every sample of the session: priced per Updated frame, each frame got
    slower as the session grew (issue 20). The frames between are answered without it."""
    from decimal import Decimal

    from sessions_app import signals

    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 60
    priced: list[int] = []
    registered = signals._running_cost
    signals.register_running_cost(lambda *, session: priced.append(session.pk) or Decimal("1.50"))
    try:
        cp, consumer, handler = await station()
        await sync_to_async(IdTokenFactory)(uid="CARD-1")
        started = await call(
            handler,
            consumer,
            "TransactionEvent",
            event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=100),
        )
        updated = [
            await call(
                handler,
                consumer,
                "TransactionEvent",
                event("Updated", n, n, "MeterValuePeriodic", state="Charging", wh=100 + 10 * n),
                str(n + 1),
            )
            for n in range(1, 5)
        ]
    finally:
        signals._running_cost = registered
    assert len(priced) == 1
    assert started[2]["updatedPersonalMessage"]["content"].startswith("Cost so far: 1.50")
    assert all(answer[0] == 3 and "updatedPersonalMessage" not in answer[2] for answer in updated)
    session = await sync_to_async(ChargeSession.objects.get)(charge_point=cp, transaction_id="TX-1")
    assert session.meter_last_wh == 140  # every frame was still stored


async def test_running_costs_every_frame_when_the_interval_is_zero(settings):
    from decimal import Decimal

    from sessions_app import signals

    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 0
    priced: list[int] = []
    registered = signals._running_cost
    signals.register_running_cost(lambda *, session: priced.append(session.pk) or Decimal("1.50"))
    try:
        _, consumer, handler = await station()
        await sync_to_async(IdTokenFactory)(uid="CARD-1")
        await call(handler, consumer, "TransactionEvent", event("Started", 0, 0, "Authorized", id_token="CARD-1"))
        answer = await call(handler, consumer, "TransactionEvent", event("Updated", 1, 1, "MeterValuePeriodic"), "2")
    finally:
        signals._running_cost = registered
    assert len(priced) == 2 and answer[2]["updatedPersonalMessage"]["content"].startswith("Cost so far")
