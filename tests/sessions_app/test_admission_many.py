"""Issue 20, set-based admission: the `..._many` services give the same stored rows and
answers as their one-by-one versions, item for item, for many chargers in one call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chargepoints import device_model
from chargepoints.models import ChargePoint, Connector, ConnectorStatusChange, IdToken
from chargepoints.services import charge_point_add
from sessions_app import services
from sessions_app.models import ChargeSession, ChargingStateChange, SessionAnomaly

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _fleet(prefix: str) -> list[ChargePoint]:
    """Three chargers with two connectors each: the first charges on connector 1 (plugged
    in, not drawing yet), the second on connector 2 and has rebooted since (its session is
    an orphan once the connector says Available), the third is idle."""
    fleet = [charge_point_add(identity=f"{prefix}-{n}", connector_count=2) for n in range(3)]
    for n, (charge_point, connector_id) in enumerate([(fleet[0], 1), (fleet[1], 2)]):
        IdToken.objects.create(uid=f"{prefix}-CARD-{n}")
        services.charge_session_start(
            charge_point_id=charge_point.pk,
            connector_id=connector_id,
            id_tag=f"{prefix}-CARD-{n}",
            meter_start_wh=1000,
            timestamp=T0 - timedelta(hours=1),
        )
    ChargePoint.objects.filter(pk=fleet[1].pk).update(last_boot_at=timezone.now() + timedelta(seconds=5))
    Connector.objects.filter(charge_point__in=fleet).update(status_updated_at=None)  # (creation times differ)
    return fleet


def _status_items(fleet: list[ChargePoint]) -> list[dict]:
    a, b, c = (cp.pk for cp in fleet)

    def item(charge_point_id, connector_id, status, minute, **extra):
        return {
            "charge_point_id": charge_point_id,
            "connector_id": connector_id,
            "status": status,
            "timestamp": T0 + timedelta(minutes=minute),
            **extra,
        }

    return [
        item(a, 0, "Available", 0),
        item(a, 1, "Charging", 1),  # the session starts drawing: its charging state changes
        item(b, 1, "Preparing", 2),
        item(b, 2, "Available", 3),  # rebooted: the session is closed as an orphan
        item(c, 1, "Available", 4),  # unchanged, but the connector's first report
        item(c, 1, "Available", 5),  # a repeat: no history row
        item(c, 3, "Faulted", 6, error_code="GroundFailure", info="x" * 60),  # a connector not known yet
        item(a, 0, "Faulted", 7, error_code="PowerMeterFailure"),
        item(c, 1, "Unavailable", 8, error_code="OtherError", info="door", vendor_error_code="E42"),
        item(a, 1, "Charging", 9),  # no change for the session any more
        item(b, 1, "Reserved", 10),  # no charging state
    ]


def _stored(fleet: list[ChargePoint]) -> dict:
    """What the status services store, by charger position (so two fleets compare)."""
    index = {cp.pk: n for n, cp in enumerate(fleet)}
    return {
        "charge_points": [
            tuple(ChargePoint.objects.filter(pk=cp.pk).values_list("status", "error_code").get()) for cp in fleet
        ],
        "connectors": sorted(
            (index[c.charge_point_id], c.connector_id, c.status, c.error_code, c.info, c.vendor_error_code)
            + (c.status_updated_at, c.power_w)
            for c in Connector.objects.filter(charge_point__in=fleet)
        ),
        # Each connector's history in the order it was written (rows of different
        # connectors may be written in another order: the history is read by time).
        "history": sorted(
            (
                (index[h.charge_point_id], h.connector.connector_id if h.connector else 0, h.status, h.error_code)
                + (h.info, h.vendor_error_code, h.at)
                for h in ConnectorStatusChange.objects.filter(charge_point__in=fleet).order_by("id")
            ),
            key=lambda row: row[:2],
        ),
        "sessions": sorted(
            (index[s.charge_point_id], s.connector.connector_id, s.status, s.charging_state, s.stop_reason, s.power_w)
            for s in ChargeSession.objects.filter(charge_point__in=fleet)
        ),
        "states": sorted(
            (index[s.session.charge_point_id], s.at, s.charging_state)
            for s in ChargingStateChange.objects.filter(session__charge_point__in=fleet)
        ),
        "anomalies": sorted(
            (index[a.session.charge_point_id], a.kind)
            for a in SessionAnomaly.objects.filter(session__charge_point__in=fleet)
        ),
    }


def test_a_batch_of_1_6_status_notifications_stores_what_one_by_one_does():
    one_by_one, batched = _fleet("ONE"), _fleet("MANY")
    for item in _status_items(one_by_one):
        services.status_notification_apply(**item)
    services.status_notification_apply_many(items=_status_items(batched))
    expected = _stored(one_by_one)
    assert _stored(batched) == expected
    # (the cases the items were chosen for did happen)
    assert ("completed", "Reboot") in {(s[2], s[4]) for s in expected["sessions"]}
    assert (0, 1, "active", "Charging") in {s[:4] for s in expected["sessions"]}
    assert [h for h in expected["history"] if h[0] == 2 and h[1] == 1][:2] == [
        (2, 1, "Available", "NoError", "", "", T0 + timedelta(minutes=4)),
        (2, 1, "Unavailable", "OtherError", "door", "E42", T0 + timedelta(minutes=8)),
    ]


def test_a_replayed_batch_changes_nothing():
    fleet = _fleet("REPLAY")
    items = _status_items(fleet)
    services.status_notification_apply_many(items=items)
    first = _stored(fleet)
    services.status_notification_apply_many(items=items[-3:])  # (the last status of each connector again)
    services.status_notification_apply_many(items=[items[-2], items[-2]])
    assert _stored(fleet) == first


def test_the_common_case_is_a_handful_of_statements_whatever_the_batch(django_assert_max_num_queries):
    fleet = [charge_point_add(identity=f"BULK-{n}", connector_count=1) for n in range(30)]
    items = [
        {
            "charge_point_id": cp.pk,
            "identity": cp.identity,
            "connector_id": connector_id,
            "status": "Available",
            "timestamp": T0,
        }
        for cp in fleet
        for connector_id in (0, 1)
    ]
    # PostgreSQL: connectors, their sessions, chargers (connector 0), the history (COPY,
    # not counted), one UPDATE of connectors and one of chargers. SQLite updates row by row.
    with django_assert_max_num_queries(5 if connection.vendor == "postgresql" else 5 + 60):
        services.status_notification_apply_many(items=items)
    assert ConnectorStatusChange.objects.filter(charge_point__in=fleet).count() == 60
    assert set(ChargePoint.objects.filter(pk__in=[cp.pk for cp in fleet]).values_list("status", flat=True)) == {
        "Available"
    }


def test_a_batch_of_2_0_1_status_notifications_stores_what_one_by_one_does():
    def fleet(prefix):
        return [charge_point_add(identity=f"{prefix}-{n}", connector_count=1) for n in range(2)]

    def items(chargers):
        a, b = (cp.pk for cp in chargers)
        return [
            {"charge_point_id": a, "evse_id": 1, "evse_connector_id": 1, "status": "Occupied", "at": T0},
            {"charge_point_id": b, "evse_id": 2, "evse_connector_id": 1, "status": "Available", "at": T0},
            {"charge_point_id": b, "evse_id": 2, "evse_connector_id": 2, "status": "Faulted", "at": T0},
            {"charge_point_id": a, "evse_id": 1, "evse_connector_id": 1, "status": "Occupied", "at": T0},
            {"charge_point_id": b, "evse_id": 1, "evse_connector_id": 1, "status": "Unavailable", "at": T0},
        ]

    one_by_one, batched = fleet("V201-ONE"), fleet("V201-MANY")
    expected = [device_model.connector_status_update(**item).connector_id for item in items(one_by_one)]
    got = device_model.connector_status_update_many(items=items(batched))
    assert [c.connector_id for c in got] == expected == [1, 2, 3, 1, 1]
    assert _stored(batched)["connectors"] == _stored(one_by_one)["connectors"]
    assert _stored(batched)["history"] == _stored(one_by_one)["history"]


def _cards(django_user_model) -> list[str]:
    IdToken.objects.create(uid="OK", group_uid="FLEET")
    IdToken.objects.create(uid="OLD", expires_at=timezone.now() - timedelta(days=1))
    IdToken.objects.create(uid="SOON", expires_at=timezone.now() + timedelta(days=1))
    IdToken.objects.create(uid="BLK", status="Blocked")
    IdToken.objects.create(uid="GONE", user=django_user_model.objects.create_user(username="gone", is_active=False))
    return ["OK", "nope", "OLD", "SOON", "BLK", "GONE", "OK", "ok"]


def test_authorize_of_many_tags_answers_what_one_by_one_does_with_one_query(
    django_user_model, django_assert_num_queries
):
    from chargepoints import selectors

    tags = _cards(django_user_model)
    expected = [selectors.id_tag_info(id_tag=tag) for tag in tags]
    with django_assert_num_queries(1):
        got = selectors.id_tag_info_many(id_tags=tags)
    assert got == expected
    assert got[0]["status"] == "Accepted" and got[1] == {"status": "Invalid"} and got[7] == {"status": "Invalid"}
    got[0]["status"] = "ConcurrentTx"  # (a caller changes its own answer, not the repeat's)
    assert got[6]["status"] == "Accepted"


def test_2_0_1_authorize_of_many_tokens_answers_what_one_by_one_does(django_user_model, django_assert_max_num_queries):
    from ocpp_consumer.handlers_common import id_token_info_v201_batch
    from sessions_app.models import RemoteStartRequest
    from sessions_app.transaction_events import id_token_info_v201

    charge_point = charge_point_add(identity="AUTH-201")
    RemoteStartRequest.objects.create(charge_point=charge_point, id_token="REMOTE-1")
    RemoteStartRequest.objects.create(
        charge_point=charge_point, id_token="REMOTE-2", status=RemoteStartRequest.Status.REJECTED
    )
    requests = [
        {"id_token": tag, "token_type": "ISO14443", "charge_point_id": charge_point.pk}
        for tag in _cards(django_user_model)
    ]
    requests += [
        {"id_token": "", "token_type": "NoAuthorization", "charge_point_id": charge_point.pk},
        {"id_token": "REMOTE-1", "token_type": "Central", "charge_point_id": charge_point.pk},
        {"id_token": "REMOTE-2", "token_type": "Central", "charge_point_id": charge_point.pk},
        {"id_token": "OK", "token_type": "Central", "charge_point_id": charge_point.pk},
    ]
    expected = [id_token_info_v201(**request) for request in requests]
    with django_assert_max_num_queries(1 + 2 * 3):  # the cards at once; Central tokens as one by one
        got = id_token_info_v201_batch(requests=requests)
    assert got == expected
    assert [info["status"] for info in got[-4:]] == ["Accepted", "Accepted", "Unknown", "Accepted"]
    assert got[0] == {"status": "Accepted", "groupIdToken": {"idToken": "FLEET", "type": "Central"}}


def test_a_start_transaction_costs_a_dozen_statements_not_seventeen(django_assert_max_num_queries):
    """Issue 20: the connector, its charger and its reservations in one query, the card and
    its IdTagInfo in one, the retry lookup and the active session in one, no reservation
    query for a connector without one, no identity query (counted with the test's two
    savepoint statements around the service)."""
    charge_point = charge_point_add(identity="START-COUNT", connector_count=1)
    IdToken.objects.create(uid="START-CARD")
    with django_assert_max_num_queries(12):
        session, info = services.charge_session_start(
            charge_point_id=charge_point.pk, connector_id=1, id_tag="START-CARD", meter_start_wh=5, timestamp=T0
        )
    assert info == {"status": "Accepted"} and session.transaction_id == str(session.pk)
    # A replay is one lookup: the same session back.
    with django_assert_max_num_queries(6):
        again, _ = services.charge_session_start(
            charge_point_id=charge_point.pk, connector_id=1, id_tag="START-CARD", meter_start_wh=5, timestamp=T0
        )
    assert again == session
    # A connector not known yet is created, as before.
    other, info = services.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=3, id_tag="OTHER", meter_start_wh=0, timestamp=T0
    )
    assert info == {"status": "Invalid"} and other.connector.connector_id == 3
    assert Connector.objects.get(pk=other.connector_id).meter_wh == 0
