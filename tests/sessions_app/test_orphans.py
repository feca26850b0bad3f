"""Issue 15, finding 6: sessions a charger lost (offline, rebooted) are closed by the back
office at their last meter reading, the card is free again, and a late real stop is merged."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Purchase
from billing.services import purchase_create_for_session, purchase_set_paid_date
from chargepoints.models import ChargePoint, ChargePointEvent, IdToken
from chargepoints.services import charge_point_boot, connector_ensure
from sessions_app import services
from sessions_app.models import ChargeSession, SessionAnomaly
from sessions_app.tasks import charge_session_orphan_sweep
from tests.billing.factories import assign, make_charge_point, make_tariff

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def charge_point(now):
    charge_point = make_charge_point()
    connector_ensure(charge_point_id=charge_point.pk, connector_id=2)
    # 0.30/kWh, no fee, no VAT: the amounts read as the energy.
    assign(
        make_tariff(energy_price_per_kwh=Decimal("0.30")), site=charge_point.site, valid_from=now - timedelta(days=30)
    )
    IdToken.objects.create(uid="CARD")
    return charge_point


def start_with_reading(charge_point, *, started_at, reading_at, wh, connector_id: int = 1) -> ChargeSession:
    session, info = services.charge_session_start(
        charge_point_id=charge_point.pk,
        connector_id=connector_id,
        id_tag="CARD",
        meter_start_wh=0,
        timestamp=started_at,
    )
    assert info["status"] == "Accepted"
    services.status_notification_apply(
        charge_point_id=charge_point.pk, connector_id=connector_id, status="Charging", timestamp=started_at
    )
    services.meter_values_record(
        charge_point_id=charge_point.pk,
        identity=charge_point.identity,
        connector_id=connector_id,
        transaction_id=session.transaction_id,
        meter_value=[{"timestamp": reading_at.isoformat(), "sampled_value": [{"value": str(wh)}]}],
    )
    return session


def went_offline(charge_point, *, last_seen_at) -> None:
    ChargePoint.objects.filter(pk=charge_point.pk).update(is_online=False, last_seen_at=last_seen_at)


def test_a_session_on_a_charger_offline_for_over_two_hours_is_closed_at_its_last_reading(charge_point, now):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(hours=4), reading_at=now - timedelta(hours=3), wh=5000
    )
    went_offline(charge_point, last_seen_at=now - timedelta(hours=2, minutes=1))
    assert services.charge_session_orphans_close(now=now) == [session.pk]
    session.refresh_from_db()
    assert session.status == "completed" and session.closed_by == "server" and session.stop_reason == "Other"
    assert (session.stopped_at, session.meter_stop_wh) == (now - timedelta(hours=3), 5000)
    anomaly = SessionAnomaly.objects.get(session=session, kind="closed_by_backoffice")
    assert anomaly.detail["why"] == "offline" and anomaly.get_kind_display().startswith("Closed by the back office")
    # Priced up to the last reading: 5 kWh x 0.30.
    assert purchase_create_for_session(session_id=session.pk).total_price == Decimal("1.50")
    # The card is free: a start elsewhere is accepted, not ConcurrentTx.
    _, info = services.charge_session_start(
        charge_point_id=make_charge_point().pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=now
    )
    assert info["status"] == "Accepted"


def test_a_charger_offline_for_less_than_the_setting_keeps_its_session(charge_point, now, settings):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(hours=4), reading_at=now - timedelta(hours=1), wh=5000
    )
    went_offline(charge_point, last_seen_at=now - timedelta(minutes=90))
    assert services.charge_session_orphans_close(now=now) == []
    settings.SESSIONS_ORPHAN_OFFLINE_SECONDS = 3600
    assert services.charge_session_orphans_close(now=now) == [session.pk]


def test_an_online_charger_keeps_its_session_however_old(charge_point, now):
    start_with_reading(charge_point, started_at=now - timedelta(days=2), reading_at=now - timedelta(days=2), wh=10)
    ChargePoint.objects.filter(pk=charge_point.pk).update(is_online=True, last_seen_at=now - timedelta(hours=5))
    assert services.charge_session_orphans_close(now=now) == []


def test_a_reboot_then_available_closes_the_session_at_once(charge_point, now):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(minutes=40), reading_at=now - timedelta(minutes=10), wh=3000
    )
    charge_point_boot(charge_point_id=charge_point.pk, vendor="V", model="M")
    services.status_notification_apply(
        charge_point_id=charge_point.pk, connector_id=1, status="Available", timestamp=now
    )
    session.refresh_from_db()
    assert session.status == "completed" and session.stop_reason == "Reboot"
    assert (session.stopped_at, session.meter_stop_wh) == (now - timedelta(minutes=10), 3000)
    assert SessionAnomaly.objects.get(session=session, kind="closed_by_backoffice").detail["why"] == "rebooted"


def test_available_without_a_reboot_leaves_the_session_to_the_chargers_stop(charge_point, now):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(minutes=40), reading_at=now - timedelta(minutes=10), wh=3000
    )
    services.status_notification_apply(
        charge_point_id=charge_point.pk, connector_id=1, status="Available", timestamp=now
    )
    session.refresh_from_db()
    assert session.status == "active"
    assert services.charge_session_orphans_close(now=now) == []


def test_the_beat_sweep_is_scheduled_and_closes_rebooted_sessions(charge_point, now, settings):
    assert (
        settings.CELERY_BEAT_SCHEDULE["sessions-orphan-sweep"]["task"]
        == "sessions_app.tasks.charge_session_orphan_sweep"
    )
    session = start_with_reading(
        charge_point, started_at=now - timedelta(minutes=40), reading_at=now - timedelta(minutes=10), wh=3000
    )
    services.status_notification_apply(
        charge_point_id=charge_point.pk, connector_id=1, status="Available", timestamp=now
    )
    charge_point_boot(charge_point_id=charge_point.pk, vendor="V", model="M")  # booted, connector already Available
    assert charge_session_orphan_sweep() == [session.pk]


def test_a_late_real_stop_is_accepted_merged_and_re_priced_while_unpaid(charge_point, now):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(hours=4), reading_at=now - timedelta(hours=3), wh=5000
    )
    went_offline(charge_point, last_seen_at=now - timedelta(hours=3))
    services.charge_session_orphans_close(now=now)
    assert purchase_create_for_session(session_id=session.pk).total_price == Decimal("1.50")
    stopped, info = services.charge_session_stop(
        charge_point_id=charge_point.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=8000,
        timestamp=now - timedelta(hours=2, minutes=30),
        reason="EVDisconnected",
        id_tag="CARD",
        transaction_data=[
            {"timestamp": (now - timedelta(hours=2, minutes=45)).isoformat(), "sampled_value": [{"value": "7000"}]}
        ],
    )
    assert info == {"status": "Accepted"}
    stopped.refresh_from_db()
    assert (stopped.meter_stop_wh, stopped.stopped_at, stopped.stop_reason, stopped.closed_by) == (
        8000,
        now - timedelta(hours=2, minutes=30),
        "EVDisconnected",
        "charger",
    )
    assert SessionAnomaly.objects.filter(session=session, kind="late_stop").count() == 1
    purchase = purchase_create_for_session(session_id=session.pk)
    assert (purchase.energy_wh, purchase.total_price) == (8000, Decimal("2.40"))


def test_a_late_real_stop_after_payment_is_flagged_for_the_operator(charge_point, now):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(hours=4), reading_at=now - timedelta(hours=3), wh=5000
    )
    went_offline(charge_point, last_seen_at=now - timedelta(hours=3))
    services.charge_session_orphans_close(now=now)
    purchase = purchase_create_for_session(session_id=session.pk)
    purchase_set_paid_date(purchase_id=purchase.pk)
    services.charge_session_stop(
        charge_point_id=charge_point.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=8000,
        timestamp=now - timedelta(hours=2),
    )
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.total_price == Decimal("1.50")
    event = ChargePointEvent.objects.get(charge_point=charge_point, kind="late_stop_after_payment")
    assert event.severity == "warning" and "paid" in event.message


def test_the_portal_shows_a_session_closed_by_the_back_office(client, charge_point, now, django_user_model):
    session = start_with_reading(
        charge_point, started_at=now - timedelta(hours=4), reading_at=now - timedelta(hours=3), wh=5000
    )
    went_offline(charge_point, last_seen_at=now - timedelta(hours=3))
    services.charge_session_orphans_close(now=now)
    client.force_login(django_user_model.objects.create_superuser("root", "root-password"))
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Closed by the back office" in page


# --- finding 7: implausible timestamps are recorded as sent, flagged, priced on the receive time ---


def test_a_start_months_in_the_future_is_flagged_and_priced_from_the_receive_time(charge_point, now):
    sent = now + timedelta(days=90)
    session, info = services.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=sent
    )
    assert info["status"] == "Accepted"
    assert now <= session.started_at < now + timedelta(minutes=1)
    anomaly = SessionAnomaly.objects.get(session=session, kind="implausible_time")
    assert anomaly.detail["sent"] == sent.isoformat() and anomaly.detail["why"] == "future"
    # The charger retries the same start: the same session, not a second one.
    again, _ = services.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=sent
    )
    assert again.pk == session.pk and ChargeSession.objects.filter(charge_point=charge_point).count() == 1


def test_a_start_a_few_minutes_ahead_is_a_clock_within_tolerance(charge_point, now):
    sent = now + timedelta(minutes=9)
    session, _ = services.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=sent
    )
    assert session.started_at == sent and not SessionAnomaly.objects.filter(session=session).exists()


def test_a_start_before_the_chargers_boot_is_flagged(charge_point, now):
    charge_point_boot(charge_point_id=charge_point.pk, vendor="V", model="M")
    sent = now - timedelta(days=400)  # a charger without a real-time clock after a reboot
    session, _ = services.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=sent
    )
    assert session.started_at >= now
    assert SessionAnomaly.objects.get(session=session, kind="implausible_time").detail["why"] == "too_early"


def test_a_stop_before_its_start_is_flagged_and_ends_at_the_receive_time(charge_point, now):
    session, _ = services.charge_session_start(
        charge_point_id=charge_point.pk,
        connector_id=1,
        id_tag="CARD",
        meter_start_wh=0,
        timestamp=now - timedelta(minutes=30),
    )
    stopped, _ = services.charge_session_stop(
        charge_point_id=charge_point.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=1000,
        timestamp=now - timedelta(days=3),
    )
    assert stopped.stopped_at >= now
    anomaly = SessionAnomaly.objects.get(session=session, kind="implausible_time")
    assert (anomaly.detail["field"], anomaly.detail["why"]) == ("stop", "too_early")
    assert purchase_create_for_session(session_id=session.pk).total_price == Decimal("0.30")


def test_a_2_0_1_event_months_in_the_future_is_flagged_and_placed_at_the_receive_time(charge_point, now):
    from sessions_app.transaction_events import transaction_event_handle
    from tests.ocpp_consumer.v201.frames import kwargs_of

    sent = now + timedelta(days=120)
    payload = {
        "eventType": "Started",
        "timestamp": sent.isoformat(),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-F", "chargingState": "Charging"},
        "idToken": {"idToken": "CARD", "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 1},
    }
    transaction_event_handle(charge_point_id=charge_point.pk, **kwargs_of(payload))
    transaction_event_handle(charge_point_id=charge_point.pk, **kwargs_of(payload))  # a retry: one anomaly
    session = ChargeSession.objects.get(charge_point=charge_point, transaction_id="TX-F")
    assert now <= session.started_at < now + timedelta(minutes=1)
    anomaly = SessionAnomaly.objects.get(session=session, kind="implausible_time")
    assert (anomaly.detail["sent"], anomaly.detail["why"]) == (sent.isoformat(), "future")
    assert session.events.get().payload["timestamp"] == sent.isoformat()  # recorded as sent
