"""Issue 20, set-based StartTransaction: charge_session_start_many stores and answers what
charge_session_start does one by one in order, for a batch mixing the common start with
every case that must go one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chargepoints.models import ChargePoint, Connector, ConnectorReservation, IdToken
from chargepoints.services import charge_point_add
from sessions_app import services
from sessions_app.models import ChargeSession, ChargingStateChange, SessionAnomaly
from sessions_app.start_stop_many import charge_session_start_many

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NAMES = "plain unknown newconn reserved lost retry future twin1 twin2 busy blocked resid charging invalid freer taker".split()


def _fleet(prefix: str, django_user_model) -> dict[str, ChargePoint]:
    fleet = {name: charge_point_add(identity=f"{prefix}-{name}", connector_count=1) for name in NAMES}
    fleet["other"] = charge_point_add(identity=f"{prefix}-other", connector_count=1)
    for name in ("plain", "newconn", "reserved", "lost", "retry", "future", "twin", "busy", "resid", "charging"):
        IdToken.objects.create(uid=f"{prefix}-{name}", group_uid="FLEET" if name == "plain" else "")
    for name in ("freer", "freed"):
        IdToken.objects.create(uid=f"{prefix}-{name}", group_uid="FLEET" if name == "plain" else "")
    IdToken.objects.create(uid=f"{prefix}-blocked", status="Blocked")
    IdToken.objects.create(
        uid=f"{prefix}-invalid", user=django_user_model.objects.create_user(username=f"{prefix}-gone", is_active=False)
    )
    Connector.objects.filter(charge_point=fleet["plain"]).update(meter_wh=500)
    Connector.objects.filter(charge_point=fleet["charging"]).update(status="Charging")
    ConnectorReservation.objects.create(
        charge_point=fleet["reserved"],
        connector=fleet["reserved"].connectors.get(connector_id=1),
        id_tag="SOMEONE-ELSE",
        expires_at=timezone.now() + timedelta(minutes=30),
        status="accepted",
    )
    # A session the charger never stopped, one already stored (the retry), one elsewhere
    # with the card "busy" (so its start here is ConcurrentTx), and one never stopped with
    # the card "freed", which the start on its connector ("freer") closes before "taker"
    # starts with that card.
    for name, card, at in (
        ("lost", "lost", T0 - timedelta(hours=2)),
        ("retry", "retry", T0),
        ("other", "busy", T0),
        ("freer", "freed", T0 - timedelta(hours=2)),
    ):
        services.charge_session_start(
            charge_point_id=fleet[name].pk, connector_id=1, id_tag=f"{prefix}-{card}", meter_start_wh=100, timestamp=at
        )
    return fleet


def _items(prefix: str, fleet: dict[str, ChargePoint]) -> list[dict]:
    def item(name, card=None, connector_id=1, at=T0, **extra):
        return {
            "charge_point_id": fleet[name].pk,
            "connector_id": connector_id,
            "id_tag": f"{prefix}-{card or name}",
            "meter_start_wh": 1000,
            "timestamp": at,
            "reservation_id": None,
            **extra,
        }

    return [
        item("plain"),
        item("unknown"),  # no such card: opened, answered Invalid
        item("newconn", connector_id=2),  # a connector not known yet
        item("reserved"),  # kept for another card
        item("lost"),  # the last session was never stopped
        item("retry"),  # the same start again
        item("future", at=timezone.now() + timedelta(days=1)),  # an implausible clock
        item("twin1", card="twin"),
        item("twin2", card="twin"),  # the same card twice in the batch: ConcurrentTx
        item("busy"),  # the card charges elsewhere: ConcurrentTx
        item("blocked"),
        item("resid", reservation_id=4242),  # names a reservation we do not have
        item("charging"),  # the connector already says Charging
        item("invalid"),  # the driver's account is closed: Blocked
        item("freer"),  # closes the session of the card "freed" (a lost stop)...
        item("taker", card="freed"),  # ...so that card starts here: Accepted
    ]


def _stored(fleet: dict[str, ChargePoint]) -> dict:
    name_of = {cp.pk: name for name, cp in fleet.items()}
    sessions = ChargeSession.objects.filter(charge_point__in=fleet.values()).select_related("connector", "id_token")
    return {
        "sessions": sorted(
            (
                name_of[s.charge_point_id],
                s.connector.connector_id,
                s.status,
                s.authorization,
                s.id_tag.split("-", 1)[1],
                s.id_token.uid.split("-", 1)[1] if s.id_token else None,
                s.user_id is not None,
                s.started_at if s.started_at < T0 + timedelta(hours=1) else "now",
                s.stopped_at is not None,
                (s.meter_start_wh, s.meter_last_wh, s.meter_stop_wh),
                s.charging_state,
                s.stop_reason,
                s.closed_by,
                s.transaction_id == str(s.pk),
                s.connector_reservation_id is not None,
            )
            for s in sessions
        ),
        "states": sorted(
            (name_of[c.session.charge_point_id], c.at if c.at < T0 + timedelta(hours=1) else "now", c.charging_state)
            for c in ChargingStateChange.objects.filter(session__in=sessions).select_related("session")
        ),
        "anomalies": sorted(
            (name_of[a.session.charge_point_id], a.kind) for a in SessionAnomaly.objects.filter(session__in=sessions)
        ),
        "connectors": sorted(
            (name_of[c.charge_point_id], c.connector_id, c.status, c.meter_wh)
            for c in Connector.objects.filter(charge_point__in=fleet.values())
        ),
        "reservations": sorted(
            (name_of[r.charge_point_id], r.status)
            for r in ConnectorReservation.objects.filter(charge_point__in=fleet.values())
        ),
    }


def _answers(fleet: dict[str, ChargePoint], results) -> list[tuple]:
    name_of = {cp.pk: name for name, cp in fleet.items()}
    return [(name_of[session.charge_point_id], session.transaction_id != "", info) for session, info in results]


def test_a_batch_of_starts_stores_and_answers_what_one_by_one_does(django_user_model):
    one, many = _fleet("ONE", django_user_model), _fleet("MANY", django_user_model)
    expected_answers = _answers(one, [services.charge_session_start(**item) for item in _items("ONE", one)])
    got_answers = _answers(many, charge_session_start_many(items=_items("MANY", many)))
    expected = _stored(one)
    assert _stored(many) == expected
    assert [(n, ok, {k: v for k, v in info.items() if k != "expiryDate"}) for n, ok, info in got_answers] == [
        (n, ok, {k: v for k, v in info.items() if k != "expiryDate"}) for n, ok, info in expected_answers
    ]
    # (the cases the items were chosen for did happen)
    status = {name: info["status"] for name, _, info in expected_answers}
    assert status["plain"] == "Accepted" and status["unknown"] == "Invalid" and status["reserved"] == "Invalid"
    assert status["twin1"] == "Accepted" and status["twin2"] == "ConcurrentTx" and status["busy"] == "ConcurrentTx"
    assert status["blocked"] == "Blocked" and status["invalid"] == "Blocked"
    assert status["freer"] == "Accepted" and status["taker"] == "Accepted"
    assert ("lost", "replaced") in expected["anomalies"] and ("future", "implausible_time") in expected["anomalies"]
    assert ("plain", 1, "Available", 1000) in expected["connectors"]
    assert ("newconn", 2, "Available", 1000) in expected["connectors"]
    assert [s for s in expected["sessions"] if s[0] == "charging"][0][10] == "Charging"
    assert len([s for s in expected["sessions"] if s[0] == "retry"]) == 1


def test_the_common_start_is_a_handful_of_statements_whatever_the_batch(django_assert_max_num_queries):
    fleet = [charge_point_add(identity=f"START-{n}", connector_count=1) for n in range(30)]
    for n in range(30):
        IdToken.objects.create(uid=f"START-CARD-{n}")
    items = [
        {
            "charge_point_id": cp.pk,
            "connector_id": 1,
            "id_tag": f"START-CARD-{n}",
            "meter_start_wh": 10 * n,
            "timestamp": T0,
        }
        for n, cp in enumerate(fleet)
    ]
    # Connectors, cards, the connectors' sessions, the cards' active sessions, INSERT of
    # sessions, UPDATE of their transaction ids, INSERT of charging states, UPDATE of
    # connectors (+ savepoint). SQLite updates row by row.
    with django_assert_max_num_queries(10 if connection.vendor == "postgresql" else 10 + 2 * 30):
        results = charge_session_start_many(items=items)
    assert [info["status"] for _, info in results] == ["Accepted"] * 30
    assert sorted(int(session.transaction_id) for session, _ in results) == sorted(
        ChargeSession.objects.filter(charge_point__in=fleet).values_list("pk", flat=True)
    )
    assert ChargingStateChange.objects.filter(session__charge_point__in=fleet).count() == 30


def test_a_replayed_batch_opens_nothing_more():
    fleet = [charge_point_add(identity=f"REPLAY-{n}", connector_count=1) for n in range(3)]
    items = [
        {"charge_point_id": cp.pk, "connector_id": 1, "id_tag": f"R-{n}", "meter_start_wh": 0, "timestamp": T0}
        for n, cp in enumerate(fleet)
    ]
    first = charge_session_start_many(items=items)
    again = charge_session_start_many(items=items)
    assert [s.pk for s, _ in again] == [s.pk for s, _ in first]
    assert ChargeSession.objects.filter(charge_point__in=fleet).count() == 3


# --- Stop ----------------------------------------------------------------------------------

STOPS = "plain noid unknown closed server future early blocked twice charging".split()


def _started(prefix: str) -> dict[str, ChargePoint]:
    fleet = {name: charge_point_add(identity=f"{prefix}-S-{name}", connector_count=1) for name in STOPS}
    IdToken.objects.create(uid=f"{prefix}-S-blocked", status="Blocked")
    for name, cp in fleet.items():
        IdToken.objects.get_or_create(uid=f"{prefix}-S-{name}")
        session, _ = services.charge_session_start(
            charge_point_id=cp.pk, connector_id=1, id_tag=f"{prefix}-S-{name}", meter_start_wh=100, timestamp=T0
        )
        ChargeSession.objects.filter(pk=session.pk).update(transaction_id=f"{prefix}-{name}")
        # (not "future": its stop is the server's clock, and its charging time would differ
        # by the moment each fleet stops)
        if name in ("plain", "charging"):
            for minute, status in ((10, "Charging"), (40, "SuspendedEV"), (45, "Charging")):
                services.status_notification_apply(
                    charge_point_id=cp.pk, connector_id=1, status=status, timestamp=T0 + timedelta(minutes=minute)
                )
    one_hour = T0 + timedelta(hours=1)
    services.charge_session_stop(
        charge_point_id=fleet["closed"].pk, transaction_id=f"{prefix}-closed", meter_stop_wh=900, timestamp=one_hour
    )
    services.charge_session_close_by_server(session_id=ChargeSession.objects.get(transaction_id=f"{prefix}-server").pk)
    return fleet


def _stop_items(prefix: str, fleet: dict[str, ChargePoint]) -> list[dict]:
    def item(name, minutes=60, tx=None, **extra):
        return {
            "charge_point_id": fleet[name].pk,
            "transaction_id": tx or f"{prefix}-{name}",
            "meter_stop_wh": 5000,
            "timestamp": T0 + timedelta(minutes=minutes),
            "reason": "",
            "id_tag": "",
            "transaction_data": [],
            **extra,
        }

    data = [
        {
            "timestamp": (T0 + timedelta(minutes=30)).isoformat(),
            "sampled_value": [{"value": "2500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}],
        }
    ]
    return [
        item("plain", id_tag=f"{prefix}-S-plain", transaction_data=data),
        item("noid", reason="EVDisconnected"),
        item("unknown", tx=f"{prefix}-nope"),
        item("closed", minutes=70),  # a repeat of a stop already stored
        item("server", minutes=50),  # late, after the server closed it
        item("future", timestamp=timezone.now() + timedelta(days=1)),  # an implausible clock
        item("early", minutes=-5),  # before the start
        item("blocked", id_tag=f"{prefix}-S-blocked", reason="Remote"),
        item("twice"),
        item("twice", minutes=61),
        item("charging", minutes=50, transaction_data=data),
    ]


def _stopped(fleet: dict[str, ChargePoint]) -> dict:
    from chargepoints.models import ChargePointEvent
    from sessions_app.models import MeterSample

    name_of = {cp.pk: name for name, cp in fleet.items()}

    def when(at):
        return at if at is None or at < T0 + timedelta(days=1) else "now"

    sessions = ChargeSession.objects.filter(charge_point__in=fleet.values())
    return {
        "sessions": sorted(
            (
                name_of[s.charge_point_id],
                s.status,
                when(s.stopped_at),
                s.stop_reason,
                s.closed_by,
                s.stop_id_tag.split("-", 1)[-1],
            )
            + (s.meter_stop_wh, s.meter_last_wh, when(s.meter_last_at), s.power_w, s.time_spent_charging_s)
            + (s.charging_state,)
            for s in sessions
        ),
        "samples": sorted(
            (name_of[m.charge_point_id], m.sampled_at, m.measurand, m.value)
            for m in MeterSample.objects.filter(session__in=sessions)
        ),
        "connectors": sorted(
            (name_of[c.charge_point_id], c.meter_wh, c.power_w)
            for c in Connector.objects.filter(charge_point__in=fleet.values())
        ),
        "events": sorted(
            (name_of[e.charge_point_id], e.kind)
            for e in ChargePointEvent.objects.filter(charge_point__in=fleet.values())
        ),
        "anomalies": sorted(
            (name_of[a.session.charge_point_id], a.kind, a.detail.get("field", ""))
            for a in SessionAnomaly.objects.filter(session__in=sessions)
        ),
    }


def test_a_batch_of_stops_stores_and_answers_what_one_by_one_does():
    from sessions_app.start_stop_many import charge_session_stop_many

    one, many = _started("ONE"), _started("MANY")
    expected_answers = [
        (session is not None, info)
        for session, info in map(lambda i: services.charge_session_stop(**i), _stop_items("ONE", one))
    ]
    got_answers = [
        (session is not None, info) for session, info in charge_session_stop_many(items=_stop_items("MANY", many))
    ]
    assert got_answers == expected_answers
    expected, got = _stopped(one), _stopped(many)
    for key, rows in expected.items():
        assert got[key] == rows, (
            key,
            [row for row in got[key] if row not in rows],
            [r for r in rows if r not in got[key]],
        )
    # (the cases the items were chosen for did happen)
    by_name = {s[0]: s for s in expected["sessions"]}
    assert by_name["plain"][1:4] == ("completed", T0 + timedelta(hours=1), "Local")
    assert by_name["plain"][10] == 45 * 60 and by_name["charging"][10] == 35 * 60  # Charging 10-40 and 45-60 (-50)
    assert by_name["noid"][3] == "EVDisconnected" and ("server", "closed_by_server", "") in expected["anomalies"]
    assert ("unknown", "stop_unknown_transaction") in expected["events"]
    assert {("future", "implausible_time", "stop"), ("early", "implausible_time", "stop")} <= set(expected["anomalies"])
    assert [a[1] for a in expected_answers] == [
        {"status": "Accepted"},
        None,
        None,
        None,
        None,
        None,
        None,
        {"status": "Blocked"},
        None,
        None,
        None,
    ]
    assert ("plain", 1, "Energy.Active.Import.Register") in {(s[0], 1, s[2]) for s in expected["samples"]}


def test_the_common_stop_is_a_handful_of_statements_whatever_the_batch(django_assert_max_num_queries):
    from sessions_app.start_stop_many import charge_session_stop_many

    fleet = [charge_point_add(identity=f"STOP-{n}", connector_count=1) for n in range(30)]
    sessions = [
        services.charge_session_start(
            charge_point_id=cp.pk, connector_id=1, id_tag=f"STOP-CARD-{n}", meter_start_wh=0, timestamp=T0
        )[0]
        for n, cp in enumerate(fleet)
    ]
    items = [
        {
            "charge_point_id": s.charge_point_id,
            "transaction_id": s.transaction_id,
            "meter_stop_wh": 700,
            "timestamp": T0 + timedelta(minutes=30),
            "id_tag": f"STOP-CARD-{n}",
        }
        for n, s in enumerate(sessions)
    ]
    # Sessions (locked), cards, timelines, UPDATE of sessions, UPDATE of connectors
    # (+ savepoint). SQLite updates row by row.
    with django_assert_max_num_queries(7 if connection.vendor == "postgresql" else 7 + 2 * 30):
        results = charge_session_stop_many(items=items)
    assert [s.status for s, _ in results] == ["completed"] * 30
    assert set(ChargeSession.objects.filter(charge_point__in=fleet).values_list("status", "meter_stop_wh")) == {
        ("completed", 700)
    }


def test_starts_and_stops_keep_their_order_in_one_batch():
    from sessions_app.start_stop_many import charge_sessions_start_stop_many

    def charging_elsewhere(prefix):
        """A card charging at A, and a charger B where it starts next."""
        a, b = (charge_point_add(identity=f"{prefix}-{n}", connector_count=1) for n in range(2))
        IdToken.objects.create(uid=f"{prefix}-CARD")
        session, _ = services.charge_session_start(
            charge_point_id=a.pk, connector_id=1, id_tag=f"{prefix}-CARD", meter_start_wh=0, timestamp=T0
        )
        start = {"charge_point_id": b.pk, "connector_id": 1, "id_tag": f"{prefix}-CARD", "meter_start_wh": 0}
        stop = {"charge_point_id": a.pk, "transaction_id": session.transaction_id, "meter_stop_wh": 100}
        return ("start", {**start, "timestamp": T0 + timedelta(minutes=2)}), (
            "stop",
            {**stop, "timestamp": T0 + timedelta(minutes=1)},
        )

    # The stop first: the card is free when it starts at B.
    start, stop = charging_elsewhere("ORDER-STOP-FIRST")
    assert [info for _, info in charge_sessions_start_stop_many(items=[stop, start])] == [None, {"status": "Accepted"}]
    # The start first: the card still charges at A, as one by one.
    start, stop = charging_elsewhere("ORDER-START-FIRST")
    assert [info for _, info in charge_sessions_start_stop_many(items=[start, stop])] == [
        {"status": "ConcurrentTx"},
        None,
    ]
