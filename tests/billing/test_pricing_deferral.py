"""Where a finished session is priced (issue 20): a 1.6 StopTransaction's answer carries no
price, so its pricing goes to the Celery worker, not the web process's service thread;
an OCPP 2.0.1 Ended is priced before its answer, which carries the totalCost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing import tasks
from billing.models import Purchase
from chargepoints.models import IdToken
from sessions_app import services as sessions
from sessions_app.transaction_events import transaction_event_record
from tests.billing.factories import make_charge_point
from tests.ocpp_consumer.v201.frames import event, kwargs_of

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def enqueued(monkeypatch):
    """Task messages sent to the broker, instead of run (a worker is not running)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.purchase_create_for_session_task, "delay", lambda session_id: sent.append(session_id))
    return sent


def test_a_16_stop_is_priced_by_the_worker_not_inline(enqueued):
    charge_point = make_charge_point()
    IdToken.objects.create(uid="CARD")
    session, _ = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=T0
    )
    sessions.charge_session_stop(
        charge_point_id=charge_point.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=5_000,
        timestamp=T0 + timedelta(minutes=30),
    )
    assert enqueued == [session.pk]
    assert not Purchase.objects.filter(session=session).exists()
    # What the worker then runs prices it.
    tasks.purchase_create_for_session_task.run(session.pk)
    assert Purchase.objects.filter(session=session).count() == 1


def test_a_201_ended_is_priced_before_its_answer(enqueued):
    charge_point = make_charge_point()
    IdToken.objects.create(uid="CARD-1")
    for payload in (
        event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=0),
        event("Ended", 1, 30, "EVCommunicationLost", state="EVConnected", reason="EVDisconnected", wh=5_000),
    ):
        outcome = transaction_event_record(charge_point_id=charge_point.pk, **kwargs_of(payload))
    assert outcome.ended and enqueued == []
    assert Purchase.objects.filter(session_id=outcome.session_id).count() == 1


def test_a_late_201_updated_after_the_end_is_repriced_by_the_worker(enqueued):
    """Its answer carries no price: the re-pricing it causes goes to the worker."""
    charge_point = make_charge_point()
    IdToken.objects.create(uid="CARD-1")
    for payload in (
        event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=0),
        event("Ended", 2, 30, "EVCommunicationLost", state="EVConnected", reason="EVDisconnected", wh=5_000),
        event("Updated", 1, 15, "MeterValuePeriodic", state="Charging", wh=2_500),
    ):
        outcome = transaction_event_record(charge_point_id=charge_point.pk, **kwargs_of(payload))
    assert enqueued == [outcome.session_id]


def test_stops_written_together_send_one_task_that_prices_each(enqueued, monkeypatch):
    from sessions_app.start_stop_many import charge_session_stop_many

    batches: list[list[int]] = []
    monkeypatch.setattr(tasks.purchase_create_for_sessions_task, "delay", lambda ids: batches.append(list(ids)))
    stops = []
    for n in range(3):
        charge_point = make_charge_point()
        IdToken.objects.create(uid=f"CARD-{n}")
        session, _ = sessions.charge_session_start(
            charge_point_id=charge_point.pk, connector_id=1, id_tag=f"CARD-{n}", meter_start_wh=0, timestamp=T0
        )
        stops.append(
            {
                "charge_point_id": charge_point.pk,
                "transaction_id": session.transaction_id,
                "meter_stop_wh": 1_000 * (n + 1),
                "timestamp": T0 + timedelta(minutes=30),
            }
        )
    stopped = [session.pk for session, _ in charge_session_stop_many(items=stops)]
    assert enqueued == [] and batches == [stopped]  # one message for the three
    assert not Purchase.objects.filter(session_id__in=stopped).exists()
    assert sorted(tasks.purchase_create_for_sessions_task.run(stopped)) == sorted(
        Purchase.objects.filter(session_id__in=stopped).values_list("pk", flat=True)
    )
    assert Purchase.objects.filter(session_id__in=stopped).count() == 3


def test_one_session_failing_to_price_does_not_keep_the_others_unpriced(monkeypatch):
    from billing import services as billing_services

    charge_point = make_charge_point()
    ids = []
    for n in range(2):
        session, _ = sessions.charge_session_start(
            charge_point_id=charge_point.pk, connector_id=n + 1, id_tag="", meter_start_wh=0, timestamp=T0
        )
        sessions.charge_session_stop(
            charge_point_id=charge_point.pk,
            transaction_id=session.transaction_id,
            meter_stop_wh=500,
            timestamp=T0 + timedelta(minutes=5),
        )
        ids.append(session.pk)
    Purchase.objects.filter(session_id__in=ids).delete()
    real = billing_services.purchase_create_for_session

    def fails_for_the_first(*, session_id):
        if session_id == ids[0]:
            raise RuntimeError("tariff broken")
        return real(session_id=session_id)

    monkeypatch.setattr(tasks, "purchase_create_for_session", fails_for_the_first)
    with pytest.raises(RuntimeError, match="tariff broken"):
        tasks.purchase_create_for_sessions_task.run(ids)
    assert list(Purchase.objects.filter(session_id__in=ids).values_list("session_id", flat=True)) == [ids[1]]

    # A database error of a later session is the one raised, so that the task is retried.
    from django.db import OperationalError

    def database_error_for_the_second(*, session_id):
        raise RuntimeError("tariff broken") if session_id == ids[0] else OperationalError("connection lost")

    monkeypatch.setattr(tasks, "purchase_create_for_session", database_error_for_the_second)
    with pytest.raises(OperationalError):
        tasks.purchase_create_for_sessions_task.run(ids)
