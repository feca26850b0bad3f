"""The connection: subprotocol, Basic auth, unknown chargers, replacement, bad input."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chargepoints.fanout import group_name
from chargepoints.models import ChargePoint, OcppMessage
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from sessions_app.models import ChargeSession
from tests.support.chargers import PASSWORD, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _raw(server: str, identity: str, password: str | None = PASSWORD, subprotocols=None):
    return await connect(
        ChargerConfig(identity=identity, base_url=server, password=password), subprotocols=subprotocols
    )


async def _ask(ws, frame) -> list:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_it_echoes_the_subprotocol_and_accepts_a_trailing_slash(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    ws = await websockets.connect(
        f"{server}{cp.identity}/",
        subprotocols=["ocpp9.9", "ocpp1.6"],
        additional_headers={
            "Authorization": "Basic " + base64.b64encode(f"{cp.identity}:{PASSWORD}".encode()).decode()
        },
    )
    try:
        assert ws.subprotocol == "ocpp1.6"
        assert (await _ask(ws, [2, "1", "Heartbeat", {}]))[:2] == [3, "1"]
    finally:
        await ws.close()


async def test_it_refuses_a_connection_without_a_subprotocol_it_speaks(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    ws = await _raw(server, cp.identity, subprotocols=["ocpp1.5"])
    assert ws.subprotocol is None
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4002  # daphne sends no close reason; the server log has it


@pytest.mark.parametrize("password", ["wrong-password", None])
async def test_it_refuses_a_wrong_or_missing_password(server, make_charge_point, password):
    cp = await sync_to_async(make_charge_point)()
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _raw(server, cp.identity, password=password)
    assert refused.value.response.status_code == 403
    assert not (await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)).is_online


async def test_it_refuses_an_unknown_charger_by_default(server):
    with pytest.raises(websockets.InvalidStatus):
        await _raw(server, "NOBODY-KNOWS-ME")
    assert not await sync_to_async(ChargePoint.objects.filter(identity="NOBODY-KNOWS-ME").exists)()


async def test_it_registers_an_unknown_charger_as_pending_when_configured(servers, transactional_db):
    server = servers.get("pending", OCPP_UNKNOWN_CHARGERS="pending")
    async with simulated(server, "NEW-CHARGER-1", boot=False) as charger:
        assert await charger.boot() == "Pending"
        await sync_to_async(ChargePoint.objects.filter(identity="NEW-CHARGER-1").update)(registration_status="Accepted")
        assert await charger.boot() == "Accepted"
    cp = await sync_to_async(ChargePoint.objects.get)(identity="NEW-CHARGER-1")
    assert cp.password_hash and cp.password_hash != PASSWORD
    # It has to come back with the same password.
    with pytest.raises(websockets.InvalidStatus):
        await _raw(server, "NEW-CHARGER-1", password="another")


async def test_a_pending_charger_gets_a_security_error_for_other_messages(servers, transactional_db):
    server = servers.get("pending", OCPP_UNKNOWN_CHARGERS="pending")
    ws = await _raw(server, "NEW-CHARGER-2")
    try:
        boot = await _ask(ws, [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}])
        assert boot[2]["status"] == "Pending"
        answer = await _ask(
            ws,
            [
                2,
                "s",
                "StartTransaction",
                {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": "2024-01-01T00:00:00Z"},
            ],
        )
        assert answer[:3] == [4, "s", "SecurityError"]
    finally:
        await ws.close()


async def test_a_new_connection_replaces_the_old_one(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    old = await _raw(server, cp.identity)
    new = await _raw(server, cp.identity)
    try:
        await asyncio.wait_for(old.wait_closed(), 5)
        assert old.close_code == 1000
        assert (await _ask(new, [2, "1", "Heartbeat", {}]))[:2] == [3, "1"]
        await asyncio.sleep(0.2)
        assert (await sync_to_async(ChargePoint.objects.get)(pk=cp.pk)).is_online
    finally:
        await new.close()


BAD_FRAMES = [
    ("invalid json", '[2, "x", "Heartbeat", {', [4, "-1", "FormationViolation"]),
    ("not an array", '{"hello": 1}', [4, "-1", "FormationViolation"]),
    ("call missing payload", '[2, "m1", "Heartbeat"]', [4, "m1", "FormationViolation"]),
    ("unknown message type id", '[7, "t1", "Heartbeat", {}]', [4, "t1", "PropertyConstraintViolation"]),
    ("unknown action", '[2, "a1", "MakeCoffee", {}]', [4, "a1", "NotImplemented"]),
    ("1.6 action we do not take from chargers", '[2, "a2", "Reset", {"type": "Hard"}]', [4, "a2", "NotSupported"]),
    ("payload not an object", '[2, "p1", "Heartbeat", []]', [4, "p1", "FormationViolation"]),
    ("unexpected field", '[2, "p2", "Heartbeat", {"extra": 1}]', [4, "p2", "FormationViolation"]),
    ("missing required field", '[2, "p3", "Authorize", {}]', [4, "p3", "OccurenceConstraintViolation"]),
    (
        "wrong type",
        '[2, "p4", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}]',
        [4, "p4", "TypeConstraintViolation"],
    ),
    (
        "value outside the enum",
        '[2, "p5", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleepy"}]',
        [4, "p5", "PropertyConstraintViolation"],
    ),
    (
        "a start whose timestamp is not a date",
        '[2, "s1", "StartTransaction", {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": "yesterday"}]',
        [4, "s1", "PropertyConstraintViolation"],
    ),
    (
        "a stop whose transaction id is not a number",
        '[2, "s2", "StopTransaction", {"transactionId": "abc", "meterStop": 0, "timestamp": "2026-01-01T00:00:00Z"}]',
        [4, "s2", "TypeConstraintViolation"],
    ),
    (
        "string too long",
        '[2, "p6", "Authorize", {"idTag": "' + "X" * 21 + '"}]',
        [4, "p6", "PropertyConstraintViolation"],
    ),
]


@pytest.mark.parametrize("case,frame,expected", BAD_FRAMES, ids=[c[0] for c in BAD_FRAMES])
async def test_bad_input_gets_the_right_call_error_and_the_socket_stays_usable(
    server, make_charge_point, case, frame, expected
):
    cp = await sync_to_async(make_charge_point)()
    ws = await _raw(server, cp.identity)
    try:
        assert (await _ask(ws, [2, "before", "Heartbeat", {}]))[:2] == [3, "before"]
        answer = await _ask(ws, frame)
        assert answer[:3] == expected
        assert isinstance(answer[3], str) and isinstance(answer[4], dict)
        assert (await _ask(ws, [2, "after", "Heartbeat", {}]))[:2] == [3, "after"]
    finally:
        await ws.close()
    rows = await sync_to_async(
        lambda: list(
            OcppMessage.objects.filter(charge_point=cp)
            .order_by("created_at", "id")
            .values_list("direction", "message_type", "unique_id")
        )
    )()
    # Everything, including the bad frame and its error, is in the journal, in order.
    assert rows[:2] == [("in", 2, "before"), ("out", 3, "before")]
    assert rows[3][:2] == ("out", 4) and rows[-2:] == [("in", 2, "after"), ("out", 3, "after")]
    assert len(rows) == 6
    # A refused frame changed nothing (no session opened or closed).
    assert not await ChargeSession.objects.filter(charge_point=cp).aexists()


async def test_a_frame_far_too_large_gets_a_call_error(server, make_charge_point, settings):
    cp = await sync_to_async(make_charge_point)()
    ws = await _raw(server, cp.identity)
    try:
        huge = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "x", "data": "A" * 200_000}])
        answer = await _ask(ws, huge)
        assert answer[:3] == [4, "big-1", "FormationViolation"]
        assert (await _ask(ws, [2, "after", "Heartbeat", {}]))[:2] == [3, "after"]
        # Without a readable unique id there is nobody to answer: the socket is closed (4009).
        await ws.send("A" * 200_000)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd.code == 4009
    finally:
        await ws.close()
    stored = await sync_to_async(OcppMessage.objects.get)(charge_point=cp, unique_id="big-1", direction="in")
    assert len(stored.raw) < 3000 and "limit" in stored.raw


async def test_state_changes_are_fanned_out_to_the_charge_point_group(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(cp.identity), channel)
    try:
        async with simulated(server, cp.identity) as charger:
            await charger.send_status(1, "Preparing")
            seen = []
            async with asyncio.timeout(5):
                while not any(m.get("connector_id") == 1 and m["status"] == "Preparing" for m in seen):
                    seen.append(await layer.receive(channel))
        message = next(m for m in seen if m.get("connector_id") == 1)
        assert message["type"] == "cp.state" and message["identity"] == cp.identity
        assert set(message) >= {"identity", "connector_id", "status", "power_w", "meter_wh", "soc"}
    finally:
        await layer.group_discard(group_name(cp.identity), channel)
