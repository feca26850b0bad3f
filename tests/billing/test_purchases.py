from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from billing.models import Purchase, PurchaseLine
from billing.selectors import (
    purchase_get,
    purchase_get_for_session,
    purchase_list_for_user,
    session_running_cost,
)
from billing.services import (
    purchase_add,
    purchase_create_for_session,
    purchase_reprice,
    purchase_set_paid_date,
    purchase_set_total_price,
    purchase_update_payment_method,
)
from billing.tasks import create_missing_purchases, purchase_create_for_session_task, reprice_stale_purchases
from sessions_app.models import ChargeSession, SessionAnomaly
from tariffs.models import ElectricityPrice
from tests.billing.factories import add_sample, assign, make_charge_point, make_session, make_tariff, make_user

T0 = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def dynamic_charge_point():
    """Hour prices 0.10, 0.20, 0.30, ... so moving energy between hours changes the total."""
    charge_point = make_charge_point()
    assign(
        make_tariff(kind="dynamic", vat_percent=Decimal("21")),
        site=charge_point.site,
        valid_from=T0 - timedelta(days=1),
    )
    for i in range(6):
        ElectricityPrice.objects.create(
            starts_at=T0 + timedelta(hours=i), price_per_kwh=Decimal(i + 1) / 10, source="manual"
        )
    return charge_point


@pytest.mark.django_db
class TestPurchaseForSession:
    def test_it_creates_a_priced_purchase_with_lines(self):
        user = make_user()
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000, user=user
        )
        purchase = purchase_create_for_session(session_id=session.pk)
        assert purchase.user == user and purchase.status == "open"
        assert purchase.energy_wh == 4000 and purchase.priced_at is not None
        # 2 kWh at 0.10 + 2 kWh at 0.20 = 0.60 net, 0.126 VAT
        assert (purchase.subtotal, purchase.vat_amount, purchase.total_price) == (
            Decimal("0.60"),
            Decimal("0.13"),
            Decimal("0.73"),
        )
        lines = list(purchase.lines.all())
        assert [line.kind for line in lines] == ["energy", "energy", "vat"]
        assert sum(line.amount for line in lines).quantize(Decimal("0.01")) == purchase.total_price

    def test_calling_it_again_does_not_create_a_second_purchase(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(60), meter_stop_wh=1000
        )
        first = purchase_create_for_session(session_id=session.pk)
        second = purchase_create_for_session(session_id=session.pk)
        assert first.pk == second.pk
        assert Purchase.objects.count() == 1
        assert PurchaseLine.objects.filter(purchase=first).count() == 2

    def test_late_samples_reprice_an_unpaid_purchase(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000
        )
        before = purchase_create_for_session(session_id=session.pk).total_price
        # An offline charger delivers its queued meter values after the stop: all the
        # energy was in the first hour, at the cheaper price.
        add_sample(session, at(60), 4000)
        after = purchase_create_for_session(session_id=session.pk)
        assert after.total_price < before
        assert after.total_price == Decimal("0.48")  # 4 kWh * 0.10 * 1.21 = 0.484

    def test_late_samples_of_a_session_without_meter_stop_add_energy(self):
        session = make_session(charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(90))
        add_sample(session, at(30), 1000)
        assert purchase_create_for_session(session_id=session.pk).energy_wh == 1000
        add_sample(session, at(80), 3000)
        assert purchase_create_for_session(session_id=session.pk).energy_wh == 3000

    def test_a_paid_purchase_is_never_repriced(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000
        )
        purchase = purchase_create_for_session(session_id=session.pk)
        purchase_set_paid_date(purchase_id=purchase.pk, payment_method="EVM")
        add_sample(session, at(60), 4000)
        again = purchase_create_for_session(session_id=session.pk)
        assert again.total_price == purchase.total_price
        assert purchase_reprice(purchase_id=purchase.pk).total_price == purchase.total_price

    def test_meter_anomalies_are_recorded_once_however_often_it_is_priced(self):
        session = make_session(
            charge_point=dynamic_charge_point(),
            started_at=at(0),
            stopped_at=at(60),
            meter_start_wh=5000,
            meter_stop_wh=800,
        )
        add_sample(session, at(10), 6000)
        add_sample(session, at(20), 5900)
        add_sample(session, at(30), 300)
        for _ in range(3):
            purchase_create_for_session(session_id=session.pk)
        anomalies = SessionAnomaly.objects.filter(session=session).order_by("kind")
        assert [(a.kind, a.detail["previous_wh"], a.detail["value_wh"]) for a in anomalies] == [
            ("meter_backwards", 6000, 5900),
            ("meter_reset", 6000, 300),
        ]

    def test_the_tasks_create_missing_and_reprice_stale_purchases(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000
        )
        assert create_missing_purchases() == 1
        assert create_missing_purchases() == 0
        purchase = Purchase.objects.get(session=session)
        add_sample(session, at(60), 4000)
        ChargeSession.objects.filter(pk=session.pk).update(updated_at=purchase.priced_at + timedelta(microseconds=1))
        assert reprice_stale_purchases() == 1
        assert reprice_stale_purchases() == 0
        assert Purchase.objects.get(pk=purchase.pk).total_price == Decimal("0.48")
        assert purchase_create_for_session_task.delay(session.pk).get() == purchase.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_stops_create_exactly_one_purchase():
    session = make_session(
        charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000
    )
    barrier = threading.Barrier(4)
    results, errors = [], []

    def stop():
        try:
            barrier.wait()
            results.append(purchase_create_for_session(session_id=session.pk).pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=stop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert Purchase.objects.filter(session=session).count() == 1
    assert PurchaseLine.objects.filter(purchase_id=results[0]).count() == 3
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.django_db
class TestSeedPurchaseFunctions:
    def test_add_get_and_list_for_a_user(self):
        charge_point = dynamic_charge_point()
        user, other = make_user(), make_user()
        first = purchase_add(
            session=make_session(charge_point=charge_point, started_at=at(0), user=user), payment_method="QPAY"
        )
        assert purchase_add(session=first.session).pk == first.pk
        session = make_session(charge_point=charge_point, started_at=at(-300), stopped_at=at(-200), meter_stop_wh=10)
        ChargeSession.objects.filter(pk=session.pk).update(user=user)
        second = purchase_add(session=ChargeSession.objects.get(pk=session.pk))
        assert first.payment_method == "QPAY" and second.user == user
        assert [p.pk for p in purchase_list_for_user(user=user)] == [second.pk, first.pk]
        assert purchase_get(purchase_id=first.pk, user=user) == first
        with pytest.raises(Purchase.DoesNotExist):
            purchase_get(purchase_id=first.pk, user=other)
        assert purchase_get_for_session(session_id=first.session_id) == first
        assert purchase_get_for_session(session_id=10**9) is None

    def test_payment_method_and_paid_date(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(60), meter_stop_wh=1000
        )
        purchase = purchase_create_for_session(session_id=session.pk)
        with pytest.raises(ValidationError, match="BITCOIN"):
            purchase_update_payment_method(purchase_id=purchase.pk, payment_method="BITCOIN")
        assert purchase_update_payment_method(purchase_id=purchase.pk, payment_method="QPAY").payment_method == "QPAY"
        paid_at = datetime(2025, 1, 16, tzinfo=UTC)
        paid = purchase_set_paid_date(purchase_id=purchase.pk, paid_at=paid_at)
        assert (paid.status, paid.paid_at) == ("paid", paid_at)
        # Marking it paid twice keeps the first date; the method cannot change afterwards.
        assert purchase_set_paid_date(purchase_id=purchase.pk).paid_at == paid_at
        with pytest.raises(ValidationError, match="already paid"):
            purchase_update_payment_method(purchase_id=purchase.pk, payment_method="EVM")
        with pytest.raises(ValidationError):
            purchase_set_paid_date(purchase_id=purchase.pk, paid_at=datetime(2025, 1, 16))

    def test_total_price_by_hand(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(60), meter_stop_wh=1000
        )
        purchase = purchase_create_for_session(session_id=session.pk)
        updated = purchase_set_total_price(purchase_id=purchase.pk, total_price="12.10")
        assert (updated.subtotal, updated.vat_amount, updated.total_price) == (
            Decimal("10.00"),
            Decimal("2.10"),
            Decimal("12.10"),
        )
        for bad in ("-1", "abc", "1.001", "NaN"):
            with pytest.raises(ValidationError):
                purchase_set_total_price(purchase_id=purchase.pk, total_price=bad)
        purchase_set_paid_date(purchase_id=purchase.pk)
        with pytest.raises(ValidationError, match="paid"):
            purchase_set_total_price(purchase_id=purchase.pk, total_price="1.00")


@pytest.mark.django_db
class TestRunningCost:
    def test_it_follows_new_meter_values_and_is_cached_between_them(self, django_assert_max_num_queries):
        from tests.support.cache import clear_cache_keys

        clear_cache_keys()
        charge_point = make_charge_point()
        assign(
            make_tariff(energy_price_per_kwh=Decimal("0.50")), site=charge_point.site, valid_from=T0 - timedelta(days=1)
        )
        session = make_session(charge_point=charge_point, started_at=datetime.now(UTC) - timedelta(minutes=30))
        add_sample(session, session.started_at + timedelta(minutes=10), 2000)
        session.meter_last_wh = 2000
        session.save()
        assert session_running_cost(session=session) == Decimal("1.00")
        with django_assert_max_num_queries(0):
            assert session_running_cost(session=session) == Decimal("1.00")
        add_sample(session, session.started_at + timedelta(minutes=20), 3000)
        session.meter_last_wh = 3000
        session.save()
        assert session_running_cost(session=session) == Decimal("1.50")

    def test_a_finished_session_answers_its_purchase_total(self):
        session = make_session(
            charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000
        )
        purchase = purchase_create_for_session(session_id=session.pk)
        assert session_running_cost(session=session) == purchase.total_price


@pytest.mark.django_db
def test_a_purchase_asked_for_before_the_stop_is_completed_when_the_stop_arrives():
    # The driver app's "finish" may ask for the purchase before the charger confirms the stop.
    session = make_session(charge_point=dynamic_charge_point(), started_at=at(0))
    add_sample(session, at(30), 1000)
    early = purchase_create_for_session(session_id=session.pk)
    assert early.energy_wh == 1000
    ChargeSession.objects.filter(pk=session.pk).update(status="completed", stopped_at=at(60), meter_stop_wh=2000)
    final = purchase_create_for_session(session_id=session.pk)
    assert final.pk == early.pk and final.energy_wh == 2000


@pytest.mark.django_db
def test_a_purchase_with_a_payment_under_way_keeps_its_amount():
    session = make_session(
        charge_point=dynamic_charge_point(), started_at=at(0), stopped_at=at(120), meter_stop_wh=4000
    )
    purchase = purchase_create_for_session(session_id=session.pk)
    Purchase.objects.filter(pk=purchase.pk).update(status=Purchase.Status.PENDING)
    add_sample(session, at(60), 4000)
    assert purchase_create_for_session(session_id=session.pk).total_price == purchase.total_price
