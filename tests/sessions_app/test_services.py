from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargepoints.models import ChargePointEvent, IdToken
from chargepoints.services import charge_point_add
from sessions_app import selectors, services
from sessions_app.models import ChargingStateChange, MeterSample, SessionAnomaly

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def cp():
    return charge_point_add(identity="CP-1", connector_count=2)


def _sample(at: datetime, wh: int, power: int = 11000, soc: int | None = 40) -> list[dict]:
    values = [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": str(power / 1000), "measurand": "Power.Active.Import", "unit": "kW"},
    ]
    if soc is not None:
        values.append({"value": str(soc), "measurand": "SoC", "unit": "Percent"})
    return [{"timestamp": at.isoformat(), "sampled_value": values}]


def test_a_session_lives_from_start_to_stop_and_asks_billing_for_a_purchase(cp, monkeypatch):
    import billing.services
    import billing.tasks

    requested = []
    # Billing prices a 1.6 stop in its worker task (eager in tests), a 2.0.1 Ended inline.
    for module in (billing.services, billing.tasks):
        monkeypatch.setattr(
            module,
            "purchase_create_for_session",
            lambda *, session_id: requested.append(session_id),
            raising=False,
        )
    IdToken.objects.create(uid="CARD")
    services.status_notification_apply(charge_point_id=cp.pk, connector_id=1, status="Preparing", timestamp=T0)
    session, info = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="CARD", meter_start_wh=1000, timestamp=T0
    )
    assert info == {"status": "Accepted"} and session.transaction_id == str(session.pk)
    services.status_notification_apply(
        charge_point_id=cp.pk, connector_id=1, status="Charging", timestamp=T0 + timedelta(minutes=1)
    )
    services.meter_values_record(
        charge_point_id=cp.pk,
        identity="CP-1",
        connector_id=1,
        transaction_id=session.transaction_id,
        meter_value=_sample(T0 + timedelta(minutes=30), 6500),
    )
    session.refresh_from_db()
    assert (session.meter_last_wh, session.power_w, session.soc_percent, session.soc_start_percent) == (
        6500,
        11000,
        40,
        40,
    )
    assert session.connector.__class__.objects.get(pk=session.connector_id).meter_wh == 6500
    services.status_notification_apply(
        charge_point_id=cp.pk, connector_id=1, status="SuspendedEV", timestamp=T0 + timedelta(minutes=61)
    )
    stopped, _ = services.charge_session_stop(
        charge_point_id=cp.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=12000,
        timestamp=T0 + timedelta(minutes=90),
    )
    assert stopped.status == "completed" and stopped.energy_wh == 11000 and stopped.stop_reason == "Local"
    assert stopped.time_spent_charging_s == 60 * 60
    assert list(
        selectors.charge_session_state_timeline(session_id=session.pk).values_list("charging_state", flat=True)
    ) == ["EVConnected", "Charging", "SuspendedEV"]
    assert requested == [session.pk]
    # A repeated stop changes nothing and asks for nothing.
    services.charge_session_stop(
        charge_point_id=cp.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=99999,
        timestamp=T0 + timedelta(hours=3),
    )
    session.refresh_from_db()
    assert session.meter_stop_wh == 12000 and requested == [session.pk]


def test_a_retried_start_returns_the_same_session(cp):
    first, _ = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=T0
    )
    again, info = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=T0
    )
    assert first.pk == again.pk and info["status"] == "Invalid"


def test_a_new_start_on_a_busy_connector_closes_the_old_session(cp):
    old, _ = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=T0
    )
    new, _ = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=50, timestamp=T0 + timedelta(hours=1)
    )
    old.refresh_from_db()
    assert old.status == "completed" and old.closed_by == "server" and new.status == "active"
    assert SessionAnomaly.objects.filter(session=old, kind="replaced").exists()


def test_a_card_in_use_elsewhere_gets_concurrent_tx(cp):
    IdToken.objects.create(uid="CARD")
    services.charge_session_start(charge_point_id=cp.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=T0)
    _, info = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=2, id_tag="CARD", meter_start_wh=0, timestamp=T0
    )
    assert info["status"] == "ConcurrentTx"


def test_a_stop_for_an_unknown_transaction_is_recorded(cp):
    session, info = services.charge_session_stop(
        charge_point_id=cp.pk, transaction_id=5, meter_stop_wh=1, timestamp=T0, id_tag="X"
    )
    assert session is None and info == {"status": "Invalid"}
    assert ChargePointEvent.objects.filter(charge_point=cp, kind="stop_unknown_transaction").count() == 1


def test_the_server_can_close_a_session(cp):
    session, _ = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=T0
    )
    closed = services.charge_session_close_by_server(session_id=session.pk)
    assert closed.status == "completed" and closed.closed_by == "server"
    assert SessionAnomaly.objects.filter(session=session, kind="closed_by_server").exists()


def test_meter_values_store_every_sample_and_flag_a_meter_going_backwards(cp):
    session, _ = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=5000, timestamp=T0
    )
    services.meter_values_record_many(
        frames=[
            {
                "charge_point_id": cp.pk,
                "identity": "CP-1",
                "connector_id": 1,
                "transaction_id": None,
                "meter_value": _sample(T0 + timedelta(minutes=1), 6000),
            },
            {
                "charge_point_id": cp.pk,
                "identity": "CP-1",
                "connector_id": 1,
                "transaction_id": int(session.transaction_id),
                "meter_value": _sample(T0 + timedelta(minutes=2), 5500, soc=None),
            },
        ]
    )
    session.refresh_from_db()
    assert session.meter_last_wh == 5500
    assert MeterSample.objects.filter(session=session).count() == 5
    assert SessionAnomaly.objects.filter(session=session, kind="meter_backwards").exists()


def test_update_charging_state_records_the_timeline(cp):
    session, _ = services.charge_session_start(
        charge_point_id=cp.pk, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=T0
    )
    services.charge_session_update_charging_state(
        session_id=session.pk, charging_state="Charging", soc_percent=55, meter_wh=900, at=T0
    )
    services.charge_session_update_charging_state(
        session_id=session.pk, charging_state="Charging", at=T0 + timedelta(minutes=1)
    )
    session.refresh_from_db()
    assert (session.soc_percent, session.meter_last_wh, session.charging_state) == (55, 900, "Charging")
    assert ChargingStateChange.objects.filter(session=session).count() == 2  # EVConnected, Charging
    assert list(selectors.charge_session_list_for_connector(identity="CP-1", connector_id=1)) == [session]
    assert selectors.charge_session_get(session_id=session.pk) == session


def test_a_batch_of_meter_values_writes_every_session_its_own_readings_in_one_update():
    """issue 20: once every MeterValues frame belongs to a transaction, one UPDATE per
    session was a quarter of the frames' group commit; on PostgreSQL it is one for all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sessions_app.models import ChargeSession

    sessions = []
    for n in range(3):
        charger = charge_point_add(identity=f"MANY-{n}", connector_count=1)
        session, _ = services.charge_session_start(
            charge_point_id=charger.pk, connector_id=1, id_tag="X", meter_start_wh=1000, timestamp=T0
        )
        sessions.append((charger, session))
    frames = [
        {
            "charge_point_id": charger.pk,
            "identity": charger.identity,
            "connector_id": 1,
            "transaction_id": int(session.transaction_id),
            "meter_value": _sample(T0 + timedelta(minutes=1), 2000 + 100 * n, power=7000 + n * 1000, soc=50 + n),
        }
        for n, (charger, session) in enumerate(sessions)
    ]
    with CaptureQueriesContext(connection) as queries:
        services.meter_values_record_many(frames=frames)
    for n, (_, session) in enumerate(sessions):
        session.refresh_from_db()
        assert (session.meter_last_wh, session.power_w, session.soc_percent, session.soc_start_percent) == (
            2000 + 100 * n,
            7000 + n * 1000,
            50 + n,
            50 + n,
        )
        assert session.meter_last_at == T0 + timedelta(minutes=1)
    updates = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'UPDATE "{ChargeSession._meta.db_table}"')
    ]
    if connection.vendor == "postgresql":
        assert len(updates) == 1
    else:
        assert len(updates) == 3
