"""The database refuses what the domain forbids, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.models import Purchase, WalletEntry
from chargepoints.models import Connector, Evse
from payments.models import Payment, Reservation
from sessions_app.models import ChargeSession, TransactionEvent
from tariffs.models import ElectricityPrice, TariffAssignment
from tests.factories import (
    ChargePointFactory,
    ChargeSessionFactory,
    ConnectorFactory,
    DriverFactory,
    PurchaseFactory,
    SiteFactory,
    TariffFactory,
    WalletFactory,
)

pytestmark = pytest.mark.django_db


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_it_refuses_a_duplicate_transaction_id_on_the_same_charge_point():
    session = ChargeSessionFactory(transaction_id="42", status="completed", stopped_at=timezone.now())
    other_connector = ConnectorFactory(charge_point=session.charge_point, connector_id=2)
    refused(lambda: ChargeSessionFactory(connector=other_connector, transaction_id="42"))


def test_the_same_transaction_id_is_fine_on_another_charge_point():
    ChargeSessionFactory(transaction_id="7")
    ChargeSessionFactory(transaction_id="7")
    assert ChargeSession.objects.filter(transaction_id="7").count() == 2


def test_it_refuses_a_second_active_session_on_one_connector():
    session = ChargeSessionFactory()
    refused(lambda: ChargeSessionFactory(connector=session.connector, started_at=timezone.now()))


def test_it_refuses_two_sessions_starting_at_the_same_instant_on_one_connector():
    started = timezone.now()
    session = ChargeSessionFactory(started_at=started, status="completed", stopped_at=started + timedelta(minutes=5))
    refused(lambda: ChargeSessionFactory(connector=session.connector, started_at=started))


def test_a_completed_session_needs_a_stop_time():
    refused(lambda: ChargeSessionFactory(status="completed"))


def test_it_refuses_a_duplicate_seq_no_within_a_session():
    session = ChargeSessionFactory(ocpp_version="ocpp2.0.1")
    event = dict(
        session=session, event_type="Updated", trigger_reason="MeterValuePeriodic", timestamp=timezone.now(), payload={}
    )
    TransactionEvent.objects.create(seq_no=3, **event)
    refused(lambda: TransactionEvent.objects.create(seq_no=3, **event))


def test_it_allows_one_purchase_per_session_only():
    purchase = PurchaseFactory()
    refused(lambda: Purchase.objects.create(session=purchase.session, user=purchase.user, total_price=Decimal("1")))


def test_a_paid_purchase_needs_a_paid_date():
    refused(lambda: PurchaseFactory(status="paid"))


def test_feedback_scores_stay_between_one_and_five():
    purchase = PurchaseFactory()
    purchase.feedback_score = 6
    refused(purchase.save)
    purchase.feedback_score = 0
    refused(purchase.save)


def test_negative_wallet_entries_are_only_debits_or_adjustments():
    wallet = WalletFactory()
    refused(lambda: WalletEntry.objects.create(wallet=wallet, kind="top_up", amount=Decimal("-5"), idempotency_key="a"))
    refused(lambda: WalletEntry.objects.create(wallet=wallet, kind="refund", amount=Decimal("-5"), idempotency_key="b"))
    refused(lambda: WalletEntry.objects.create(wallet=wallet, kind="debit", amount=Decimal("5"), idempotency_key="c"))
    WalletEntry.objects.create(wallet=wallet, kind="debit", amount=Decimal("-5"), idempotency_key="d")
    WalletEntry.objects.create(wallet=wallet, kind="adjustment", amount=Decimal("-1"), idempotency_key="e")


def test_a_purchase_is_debited_from_a_wallet_at_most_once():
    purchase = PurchaseFactory()
    wallet = WalletFactory(user=purchase.user)
    WalletEntry.objects.create(
        wallet=wallet, kind="debit", amount=Decimal("-3.50"), purchase=purchase, idempotency_key="x1"
    )
    refused(
        lambda: WalletEntry.objects.create(
            wallet=wallet, kind="debit", amount=Decimal("-3.50"), purchase=purchase, idempotency_key="x2"
        )
    )


def test_wallet_entry_idempotency_keys_are_unique():
    wallet = WalletFactory()
    WalletEntry.objects.create(wallet=wallet, kind="top_up", amount=Decimal("5"), idempotency_key="same")
    refused(
        lambda: WalletEntry.objects.create(wallet=wallet, kind="top_up", amount=Decimal("5"), idempotency_key="same")
    )


def test_one_electricity_price_per_hour_and_market():
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    ElectricityPrice.objects.create(starts_at=start, price_per_kwh=Decimal("0.1"))
    refused(lambda: ElectricityPrice.objects.create(starts_at=start, price_per_kwh=Decimal("0.2")))
    ElectricityPrice.objects.create(starts_at=start, market="NL", price_per_kwh=Decimal("0.2"))


def test_a_tariff_assignment_targets_exactly_one_of_site_or_charge_point():
    tariff = TariffFactory()
    refused(lambda: TariffAssignment.objects.create(tariff=tariff))
    refused(
        lambda: TariffAssignment.objects.create(tariff=tariff, site=SiteFactory(), charge_point=ChargePointFactory())
    )


def test_provider_references_are_unique_per_provider():
    user = DriverFactory()
    Payment.objects.create(
        provider="qpay",
        purpose="top_up",
        user=user,
        amount=Decimal("5"),
        provider_reference="inv-1",
        idempotency_key="k1",
    )
    refused(
        lambda: Payment.objects.create(
            provider="qpay",
            purpose="top_up",
            user=user,
            amount=Decimal("5"),
            provider_reference="inv-1",
            idempotency_key="k2",
        )
    )
    Payment.objects.create(
        provider="stripe",
        purpose="top_up",
        user=user,
        amount=Decimal("5"),
        provider_reference="inv-1",
        idempotency_key="k3",
    )


def test_a_purchase_has_at_most_one_successful_payment():
    purchase = PurchaseFactory()
    common = dict(provider="qpay", purpose="purchase", user=purchase.user, purchase=purchase, amount=Decimal("3.5"))
    Payment.objects.create(status="success", idempotency_key="p1", **common)
    Payment.objects.create(status="error", idempotency_key="p2", **common)
    refused(lambda: Payment.objects.create(status="success", idempotency_key="p3", **common))


def test_a_reservation_never_captures_more_than_it_reserved():
    connector = ConnectorFactory()
    reservation = Reservation.objects.create(
        charge_point=connector.charge_point,
        connector=connector,
        charge_tag="TAG",
        max_amount=Decimal("39.20"),
        max_energy_wh=80_000,
    )
    reservation.captured_amount = Decimal("39.21")
    refused(reservation.save)


def test_connector_numbers_are_unique_per_charge_point():
    connector = ConnectorFactory()
    evse = Evse.objects.create(charge_point=connector.charge_point, evse_id=9)
    refused(
        lambda: Connector.objects.create(
            charge_point=connector.charge_point, evse=evse, connector_id=connector.connector_id
        )
    )


def test_phone_numbers_are_stored_in_e164_only():
    refused(lambda: User.objects.create(username="bad", phone="0612345678"))
    User.objects.create(username="+31612345679", phone="+31612345679")
