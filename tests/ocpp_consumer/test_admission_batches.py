"""Issue 20, set-based admission: the admission frames of many chargers arriving together
(BootNotification, StatusNotification, Authorize, StartTransaction) are handled by one
set-based call per kind, each charger still getting its own answer; a bad item fails only
its own charger. The handler classes are fed raw frames (no socket)."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import Connector, ConnectorStatusChange, OcppMessage
from chargepoints.services import charge_point_add
from ocpp_consumer import handlers_common
from ocpp_consumer.v16.central_system import CentralSystem16
from ocpp_consumer.v201.central_system import CentralSystem201
from sessions_app import services as session_services

pytestmark = pytest.mark.django_db(transaction=True)
NOW = "2026-01-01T00:00:00Z"


class _Socket:
    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, text_data: str) -> None:
        self.sent.append(json.loads(text_data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        pass

    def restore_registration_soon(self) -> None:
        pass


async def _charger(identity: str, *, version: str = "ocpp1.6", connectors: int = 1):
    cp = await sync_to_async(charge_point_add)(identity=identity, connector_count=connectors)
    socket = _Socket()
    handler_class = CentralSystem16 if version == "ocpp1.6" else CentralSystem201
    return cp, socket, handler_class(cp.identity, socket, cp.pk, "Accepted")


async def _call(handler, socket, action: str, payload: dict, unique_id: str = "1") -> list:
    await handler.route_frame(json.dumps([2, unique_id, action, payload]))
    return next(frame for frame in reversed(socket.sent) if frame[1] == unique_id)


def _spy(monkeypatch, name: str) -> list[list]:
    calls: list[list] = []
    real = getattr(handlers_common, name)

    def spy(items):
        calls.append([item.get("identity") for item in items])
        return real(items)

    monkeypatch.setattr(handlers_common, name, spy)
    return calls


async def test_status_notifications_of_many_chargers_are_stored_in_one_group_commit(monkeypatch):
    calls16 = _spy(monkeypatch, "status_notifications_flush")
    calls201 = _spy(monkeypatch, "status_notifications_flush_v201")
    chargers = [await _charger(f"ST-{n}") for n in range(3)]
    station = await _charger("ST-201", version="ocpp2.0.1")
    answers = await asyncio.gather(
        *(
            _call(handler, socket, "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
            for (_, socket, handler), status in zip(chargers, ["Preparing", "Faulted", "Available"])
        ),
        _call(
            station[2],
            station[1],
            "StatusNotification",
            {"timestamp": NOW, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        ),
    )
    assert all(answer[0] == 3 and answer[2] == {} for answer in answers)
    assert calls16 == [["ST-0", "ST-1", "ST-2"]] and calls201 == [["ST-201"]]
    statuses = await sync_to_async(
        lambda: dict(
            Connector.objects.filter(charge_point__identity__startswith="ST-").values_list(
                "charge_point__identity", "status"
            )
        )
    )()
    assert statuses == {"ST-0": "Preparing", "ST-1": "Faulted", "ST-2": "Available", "ST-201": "Occupied"}
    # Each frame and its answer are journalled with it.
    journal = await sync_to_async(
        lambda: OcppMessage.objects.filter(charge_point_identity__startswith="ST-", action="StatusNotification").count()
    )()
    assert journal == 8


async def test_a_status_that_fails_answers_internal_error_and_only_its_charger_loses_it(monkeypatch):
    calls = _spy(monkeypatch, "status_notifications_flush")
    (good_cp, good_socket, good), (bad_cp, bad_socket, bad) = [await _charger(f"FAIL-{n}") for n in range(2)]
    real = session_services.status_notification_apply_many
    bad_connector = await sync_to_async(Connector.objects.get)(charge_point=bad_cp)

    def broken_for_one(*, items):
        if any(item["identity"] == "FAIL-1" for item in items):
            # A real database error (a broken row): on PostgreSQL it aborts the transaction.
            Connector.objects.create(charge_point_id=bad_cp.pk, evse_id=bad_connector.evse_id, connector_id=1)
        return real(items=items)

    monkeypatch.setattr(handlers_common, "status_notification_apply_many", broken_for_one)
    frame = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    good_answer, bad_answer = await asyncio.gather(
        _call(good, good_socket, "StatusNotification", frame, "g1"),
        _call(bad, bad_socket, "StatusNotification", frame, "b1"),
    )
    assert good_answer == [3, "g1", {}]
    assert bad_answer[:3] == [4, "b1", "InternalError"]
    # Tried together, then each alone: the good one was stored, the bad one was not.
    assert calls == [["FAIL-0", "FAIL-1"], ["FAIL-0"], ["FAIL-1"]]
    statuses = await sync_to_async(
        lambda: dict(
            Connector.objects.filter(charge_point__identity__startswith="FAIL-").values_list(
                "charge_point__identity", "status"
            )
        )
    )()
    assert statuses == {"FAIL-0": "Charging", "FAIL-1": "Available"}
    # The bad charger's frame and its error answer are journalled all the same.
    rows = await sync_to_async(
        lambda: list(OcppMessage.objects.filter(charge_point_id=bad_cp.pk).values_list("direction", "message_type"))
    )()
    assert sorted(rows) == [("in", 2), ("out", 4)]


async def test_a_status_sent_twice_is_stored_once():
    cp, socket, handler = await _charger("TWICE")
    frame = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": NOW}
    assert (await _call(handler, socket, "StatusNotification", frame, "1"))[0] == 3
    assert (await _call(handler, socket, "StatusNotification", frame, "1"))[0] == 3
    history = await sync_to_async(
        lambda: list(ConnectorStatusChange.objects.filter(charge_point=cp).values_list("status", flat=True))
    )()
    assert history == ["Preparing"]


async def test_authorize_of_many_chargers_is_one_query_and_a_failure_stays_its_own(monkeypatch):
    from chargepoints.models import IdToken

    await sync_to_async(IdToken.objects.create)(uid="CARD-A")
    calls: list[list] = []
    real = handlers_common.id_tag_info_many

    def spy(*, id_tags):
        calls.append(list(id_tags))
        if "BOOM" in id_tags:
            raise RuntimeError("a broken lookup")
        return real(id_tags=id_tags)

    monkeypatch.setattr(handlers_common, "id_tag_info_many", spy)
    chargers = [await _charger(f"AUTH-{n}") for n in range(3)]
    answers = await asyncio.gather(
        *(
            _call(handler, socket, "Authorize", {"idTag": tag}, f"a{n}")
            for n, ((_, socket, handler), tag) in enumerate(zip(chargers, ["CARD-A", "BOOM", "NOPE"]))
        )
    )
    assert answers[0] == [3, "a0", {"idTagInfo": {"status": "Accepted"}}]
    assert answers[1][:3] == [4, "a1", "InternalError"]
    assert answers[2] == [3, "a2", {"idTagInfo": {"status": "Invalid"}}]
    assert calls == [["CARD-A", "BOOM", "NOPE"], ["CARD-A"], ["BOOM"], ["NOPE"]]
    station = await _charger("AUTH-201", version="ocpp2.0.1")
    answer = await _call(station[2], station[1], "Authorize", {"idToken": {"idToken": "CARD-A", "type": "ISO14443"}})
    assert answer[2] == {"idTokenInfo": {"status": "Accepted"}}


async def test_boots_of_many_chargers_are_one_set_call_and_a_failure_stays_its_own(monkeypatch):
    from chargepoints import services as cp_services
    from chargepoints.models import ChargePoint

    chargers = [await _charger(f"BOOT-{n}") for n in range(3)]
    await sync_to_async(ChargePoint.objects.filter(identity="BOOT-2").update)(registration_status="Pending")
    bad_pk = chargers[1][0].pk
    calls: list[list] = []
    real = cp_services.charge_point_boot_many

    def spy(*, boots):
        calls.append([boot["charge_point_id"] for boot in boots])
        if any(boot["charge_point_id"] == bad_pk for boot in boots):
            raise RuntimeError("a broken row")
        return real(boots=boots)

    monkeypatch.setattr(cp_services, "charge_point_boot_many", spy)
    frame = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "9"}
    answers = await asyncio.gather(
        *(_call(handler, socket, "BootNotification", frame, f"b{n}") for n, (_, socket, handler) in enumerate(chargers))
    )
    assert answers[0][0] == 3 and answers[0][2]["status"] == "Accepted"
    assert answers[1][:3] == [4, "b1", "InternalError"]
    assert answers[2][0] == 3 and answers[2][2]["status"] == "Pending" and answers[2][2]["interval"] <= 60
    pks = [cp.pk for cp, _, _ in chargers]
    assert calls == [pks, [pks[0]], [pks[1]], [pks[2]]]
    firmware = await sync_to_async(
        lambda: dict(ChargePoint.objects.filter(pk__in=pks).values_list("identity", "firmware_version"))
    )()
    assert firmware == {"BOOT-0": "9", "BOOT-1": "", "BOOT-2": "9"}
    assert [handler.registration_status for _, _, handler in chargers] == ["Accepted", "Accepted", "Pending"]
