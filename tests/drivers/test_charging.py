from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from drivers import charging
from sessions_app.models import ChargingStateChange
from tests.factories import ChargeSessionFactory

pytestmark = pytest.mark.django_db


def _states(session, *changes):
    start = session.started_at
    for minutes, state in changes:
        ChargingStateChange.objects.create(session=session, at=start + timedelta(minutes=minutes), charging_state=state)


def test_waiting_time_counts_minutes_plugged_in_after_charging():
    session = ChargeSessionFactory(started_at=timezone.now() - timedelta(minutes=60))
    _states(session, (0, "EVConnected"), (5, "Charging"), (35, "SuspendedEV"), (45, "Charging"), (50, "Idle"))
    # 10 minutes SuspendedEV; the 5 minutes before charging are free, and Idle (no car
    # ready, cable out) is not waiting: billing's definition, the only one (issue 15).
    assert charging.session_waiting_minutes(session) == 10


def test_waiting_time_is_the_idle_time_the_purchase_is_priced_with():
    from billing.pricing import price_session

    session = ChargeSessionFactory(started_at=timezone.now() - timedelta(minutes=60))
    # The car declined to draw for 50 minutes before charging (live showed 59 s, pricing 50 min),
    # then the charger paused it (SuspendedEVSE: the charger's doing, never waiting).
    _states(session, (0, "SuspendedEV"), (50, "Charging"), (55, "SuspendedEVSE"))
    now = session.started_at + timedelta(minutes=60)
    assert (
        charging.session_waiting_minutes(session, now=now)
        == price_session(session=session, until=now).idle_minutes
        == 50
    )


def test_waiting_time_is_zero_before_charging_starts():
    session = ChargeSessionFactory(started_at=timezone.now() - timedelta(minutes=30))
    _states(session, (0, "EVConnected"))
    assert charging.session_waiting_minutes(session) == 0


def test_the_charging_event_carries_energy_waiting_time_and_the_running_amount(monkeypatch):
    from billing.selectors import RunningFigures

    session = ChargeSessionFactory(meter_start_wh=1000, meter_last_wh=13345)
    monkeypatch.setattr(
        charging,
        "session_running_figures",
        lambda *, session: RunningFigures(total=Decimal("4.20"), energy_wh=12345, idle_minutes=7),
    )
    assert charging.charging_event_data(session) == {
        "energy": Decimal("12.345"),
        "waitingTime": 7,
        "amount": Decimal("4.20"),
    }


def test_the_charging_event_figures_are_the_purchases_figures_so_far(clean_cache):
    from billing.pricing import price_session

    session = ChargeSessionFactory(
        started_at=timezone.now() - timedelta(minutes=60), meter_start_wh=1000, meter_last_wh=13345
    )
    _states(session, (0, "SuspendedEV"), (50, "Charging"))
    data = charging.charging_event_data(session)
    priced = price_session(session=session)
    assert data == {"energy": Decimal("12.345"), "waitingTime": priced.idle_minutes, "amount": priced.total}
    assert data["waitingTime"] == 50


def test_events_go_to_every_driver_with_an_active_session_only(monkeypatch):
    sent = []
    monkeypatch.setattr("drivers.events.emit", lambda user_id, kind, data: sent.append((user_id, kind)))
    active = ChargeSessionFactory()
    ChargeSessionFactory(status="completed", stopped_at=timezone.now())
    ChargeSessionFactory(user=None)
    assert charging.charging_events_emit() == 1
    assert sent == [(active.user_id, "CHARGING")]


def test_one_failing_session_does_not_stop_the_others(monkeypatch):
    first, second = ChargeSessionFactory(), ChargeSessionFactory()

    def data(session):
        if session.pk == first.pk:
            raise RuntimeError("broken")
        return {}

    sent = []
    monkeypatch.setattr(charging, "charging_event_data", data)
    monkeypatch.setattr("drivers.events.emit", lambda user_id, kind, payload: sent.append(user_id))
    assert charging.charging_events_emit() == 1
    assert sent == [second.user_id]


def test_beat_emits_charging_events_every_two_to_five_seconds():
    from config.celery_app import app

    entry = settings.CELERY_BEAT_SCHEDULE["drivers-charging-events"]
    assert 2 <= entry["schedule"] <= 5
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_the_task_runs_the_service(monkeypatch):
    from drivers.tasks import emit_charging_events

    monkeypatch.setattr(charging, "charging_events_emit", lambda: 3)
    assert emit_charging_events.delay().get() == 3
