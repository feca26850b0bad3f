"""Out-of-range numbers answer the right OCPP error, never InternalError, and create
nothing (issue 16, minor): connectorId -5 or 10^20, a meter reading of 1e309 and
connector 99999 (which created a connector) used to fail inside the handlers."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import Connector
from chargepoints.services import charge_point_add
from ocpp_consumer.v16.central_system import CentralSystem16
from ocpp_consumer.v201.central_system import CentralSystem201
from sessions_app.models import ChargeSession, MeterSample
from tests.security.test_stray_replies import _Socket

NOW = "2026-01-01T00:00:00Z"
CASES16 = [
    (
        "StatusNotification",
        {"connectorId": -5, "errorCode": "NoError", "status": "Available"},
        "PropertyConstraintViolation",
    ),
    (
        "StatusNotification",
        {"connectorId": 10**20, "errorCode": "NoError", "status": "Available"},
        "TypeConstraintViolation",
    ),
    (
        "StatusNotification",
        {"connectorId": 99999, "errorCode": "NoError", "status": "Available"},
        "PropertyConstraintViolation",
    ),
    (
        "MeterValues",
        {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": "1e309"}]}]},
        "PropertyConstraintViolation",
    ),
    (
        "MeterValues",
        {"connectorId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": 1e309}]}]},
        "TypeConstraintViolation",
    ),  # (a JSON number where the schema wants a string)
    (
        "StartTransaction",
        {"connectorId": -1, "idTag": "X", "meterStart": 0, "timestamp": NOW},
        "PropertyConstraintViolation",
    ),
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "X", "meterStart": 10**20, "timestamp": NOW},
        "TypeConstraintViolation",
    ),
]
CASES201 = [
    (
        "StatusNotification",
        {"timestamp": NOW, "connectorStatus": "Available", "evseId": 999999, "connectorId": 1},
        "PropertyConstraintViolation",
    ),
    (
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": NOW,
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "T-1"},
            "evse": {"id": 999999, "connectorId": 1},
        },
        "PropertyConstraintViolation",
    ),
    (
        "MeterValues",
        {"evseId": 1, "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": 1e300}]}]},
        "TypeConstraintViolation",
    ),
]


async def _run(charger, socket, cases) -> list[str]:
    codes = []
    for n, (action, payload, _) in enumerate(cases):
        # (json.dumps writes a float infinity as Infinity; a charger would send 1e309)
        await charger.route_frame(json.dumps([2, f"r{n}", action, payload]).replace("Infinity", "1e309"))
        answer = json.loads(socket.sent[-1])
        codes.append(answer[2] if answer[0] == 4 else "accepted")
    return codes


@pytest.mark.django_db(transaction=True)
async def test_out_of_range_numbers_answer_the_right_error_and_create_nothing_16():
    cp = await sync_to_async(charge_point_add)(identity="RANGE-16", connector_count=1)
    socket = _Socket()
    codes = await _run(CentralSystem16(cp.identity, socket, cp.pk, "Accepted"), socket, CASES16)
    assert codes == [expected for *_, expected in CASES16]
    assert await sync_to_async(
        lambda: list(Connector.objects.filter(charge_point=cp).values_list("connector_id", flat=True))
    )() == [1]
    assert not await sync_to_async(ChargeSession.objects.exists)()
    assert not await sync_to_async(MeterSample.objects.exists)()


@pytest.mark.django_db(transaction=True)
async def test_out_of_range_numbers_answer_the_right_error_and_create_nothing_201():
    cp = await sync_to_async(charge_point_add)(identity="RANGE-201", connector_count=1)
    socket = _Socket()
    codes = await _run(CentralSystem201(cp.identity, socket, cp.pk, "Accepted"), socket, CASES201)
    assert codes == [expected for *_, expected in CASES201]
    assert await sync_to_async(Connector.objects.filter(charge_point=cp).count)() == 1
    assert not await sync_to_async(ChargeSession.objects.exists)()
