"""Writes of the billing app: purchases (the seed's "transactions") and their pricing.

The wallet ledger lives in billing/wallet.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.models import PaymentMethod, Purchase, PurchaseLine, WalletEntry
from billing.pricing import PricedSession, price_session
from billing.signals import purchase_priced
from billing.wallet import wallet_credit
from sessions_app.models import ChargeSession, SessionAnomaly

logger = logging.getLogger(__name__)

CENTS = Decimal("0.01")
LINE_PLACES = Decimal("0.000001")  # PurchaseLine.amount / unit_price precision
QUANTITY_PLACES = Decimal("0.0001")
# Only an open purchase follows its session. Pending (a payment under way for the priced
# amount), paid and void purchases are frozen.
REPRICEABLE = (Purchase.Status.OPEN,)


def purchase_add(
    *,
    session: ChargeSession,
    user: User | None = None,
    payment_method: str = "",
) -> Purchase:
    """Create the (not yet priced) purchase of a session, e.g. when it starts (the seed's
    addTransaction). A session has one purchase; adding it again returns the existing one."""
    if payment_method:
        _payment_method_validate(payment_method)
    with transaction.atomic():
        purchase, _ = _purchase_get_or_create(session=session, user=user)
        if payment_method and not purchase.payment_method:
            purchase.payment_method = payment_method
            purchase.save(update_fields=["payment_method", "updated_at"])
    return purchase


def _purchase_get_or_create(*, session: ChargeSession, user: User | None = None) -> tuple[Purchase, bool]:
    """Under the caller's transaction: the session's purchase, locked, created if missing.
    A concurrent creator loses on the OneToOne constraint and reads the winner's row."""
    purchase = Purchase.objects.select_for_update().filter(session=session).first()
    if purchase is not None:
        return purchase, False
    try:
        with transaction.atomic():  # a savepoint, so the IntegrityError leaves the outer transaction usable
            purchase = Purchase.objects.create(session=session, user=user or session.user)
        return purchase, True
    except IntegrityError:
        return Purchase.objects.select_for_update().get(session=session), False


def purchase_create_for_session(*, session_id: int) -> Purchase:
    """Create and price the purchase of a session that ended. Safe to call any number of
    times, concurrently: the purchase is created once; an open purchase is re-priced (late
    samples from OCPP 2.0.1 offline events); a pending, paid or void one is returned as is."""
    with transaction.atomic():
        # Locking the session serialises concurrent calls (duplicate stops, retries) on
        # PostgreSQL; SQLite serialises writers anyway (IMMEDIATE transactions).
        session = (
            ChargeSession.objects.select_for_update(of=("self",))
            .select_related("charge_point__site")
            .get(pk=session_id)
        )
        purchase, created = _purchase_get_or_create(session=session)
        if purchase.status not in REPRICEABLE:
            return purchase
        _purchase_price(purchase=purchase, session=session)
    if created:
        logger.info(
            "purchase %s created for session %s: %s %s",
            purchase.pk,
            session_id,
            purchase.total_price,
            purchase.currency,
        )
    return purchase


def purchase_reprice(*, purchase_id: int) -> Purchase:
    """Price an open purchase again from its session's current data. Others are returned
    unchanged: a paid purchase is never re-priced."""
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
        if purchase.status not in REPRICEABLE:
            return purchase
        session = ChargeSession.objects.select_related("charge_point__site").get(pk=purchase.session_id)
        _purchase_price(purchase=purchase, session=session)
    return purchase


@dataclass(frozen=True)
class PurchaseCorrection:
    purchase: Purchase
    action: str  # "repriced", "refunded", "unchanged"
    refund: Decimal = Decimal("0.00")


def purchase_correct(*, purchase_id: int, reason: str) -> PurchaseCorrection:
    """Put right a purchase priced under older, wrong rules, never silently: an open one is
    re-priced (voided when the CSMS had refused its session); a paid one keeps its record
    and the driver gets the overcharge back as a refund entry in the wallet ledger, with
    the reason. Pending and void purchases are left alone. Safe to run twice."""
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
        if purchase.status == Purchase.Status.OPEN:
            before = purchase.total_price
            purchase = purchase_reprice(purchase_id=purchase_id)
            action = (
                "repriced" if purchase.total_price != before or purchase.status != Purchase.Status.OPEN else "unchanged"
            )
            return PurchaseCorrection(purchase=purchase, action=action)
        if purchase.status != Purchase.Status.PAID or purchase.user_id is None:
            return PurchaseCorrection(purchase=purchase, action="unchanged")
        session = ChargeSession.objects.select_related("charge_point__site").get(pk=purchase.session_id)
        overcharge = purchase.total_price - price_session(session=session).total
        if overcharge <= 0:
            return PurchaseCorrection(purchase=purchase, action="unchanged")
        entry = wallet_credit(
            user_id=purchase.user_id,
            amount=overcharge,
            kind=WalletEntry.Kind.REFUND,
            purchase_id=purchase.pk,
            idempotency_key=f"correction-purchase-{purchase.pk}",
            note=f"Refund for purchase {purchase.pk}: {reason}",
        )
    return PurchaseCorrection(purchase=purchase, action="refunded", refund=entry.amount)


def _purchase_price(*, purchase: Purchase, session: ChargeSession) -> None:
    priced = price_session(session=session)
    _purchase_lines_replace(purchase=purchase, priced=priced)
    purchase.tariff = priced.tariff
    purchase.currency = priced.currency
    purchase.energy_wh = priced.energy_wh
    purchase.idle_minutes = priced.idle_minutes
    purchase.subtotal = priced.subtotal
    purchase.vat_amount = priced.vat
    purchase.total_price = priced.total
    purchase.priced_at = timezone.now()
    if priced.refused:
        # The CSMS refused the session: kept for the record, never to be paid.
        purchase.status = Purchase.Status.VOID
    if purchase.user_id is None and session.user_id is not None:
        purchase.user_id = session.user_id
    purchase.save()
    _session_anomalies_record(session=session, priced=priced)
    if session.status == ChargeSession.Status.COMPLETED:  # a void one too: its reservation is released
        purchase_id, session_id = purchase.pk, session.pk
        transaction.on_commit(
            lambda: purchase_priced.send(sender=Purchase, purchase_id=purchase_id, session_id=session_id),
            robust=True,
        )


def _purchase_lines_replace(*, purchase: Purchase, priced: PricedSession) -> None:
    purchase.lines.all().delete()
    PurchaseLine.objects.bulk_create(
        [
            PurchaseLine(
                purchase=purchase,
                kind=line.kind,
                description=line.description[:200],
                period_start=line.period_start,
                period_end=line.period_end,
                # Stored at the columns' precision for display; the total was computed from
                # the exact amounts.
                quantity=line.quantity.quantize(QUANTITY_PLACES, rounding=ROUND_HALF_UP),
                unit=line.unit,
                unit_price=line.unit_price.quantize(LINE_PLACES, rounding=ROUND_HALF_UP),
                amount=line.amount.quantize(LINE_PLACES, rounding=ROUND_HALF_UP),
                position=position,
            )
            for position, line in enumerate(priced.lines)
        ]
    )


def _session_anomalies_record(*, session: ChargeSession, priced: PricedSession) -> None:
    """Store the meter anomalies found while pricing, once each (re-pricing finds them again)."""
    if not priced.anomalies:
        return
    known = {
        (kind, detail.get("at"), detail.get("value_wh"))
        for kind, detail in SessionAnomaly.objects.filter(
            session=session,
            kind__in=[SessionAnomaly.Kind.METER_BACKWARDS, SessionAnomaly.Kind.METER_RESET],
        ).values_list("kind", "detail")
    }
    new = []
    for anomaly in priced.anomalies:
        detail = anomaly.as_detail()
        if (anomaly.kind, detail["at"], detail["value_wh"]) not in known:
            known.add((anomaly.kind, detail["at"], detail["value_wh"]))
            new.append(SessionAnomaly(session=session, kind=anomaly.kind, detail=detail))
    SessionAnomaly.objects.bulk_create(new)


def _payment_method_validate(payment_method: str) -> str:
    if payment_method not in PaymentMethod.values:
        raise ValidationError(
            f"{payment_method!r} is not a payment method; choose one of {', '.join(PaymentMethod.values)}."
        )
    return payment_method


@transaction.atomic
def purchase_update_payment_method(*, purchase_id: int, payment_method: str) -> Purchase:
    """Record how the driver pays (the seed's updatePaymentMethod). Not after payment."""
    _payment_method_validate(payment_method)
    purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
    if purchase.status == Purchase.Status.PAID and purchase.payment_method != payment_method:
        raise ValidationError(f"Purchase {purchase.pk} is already paid by {purchase.payment_method or 'unknown'}.")
    purchase.payment_method = payment_method
    purchase.save(update_fields=["payment_method", "updated_at"])
    return purchase


@transaction.atomic
def purchase_set_paid_date(
    *,
    purchase_id: int,
    paid_at: datetime | None = None,
    payment_method: str | None = None,
) -> Purchase:
    """Mark a purchase paid at `paid_at` (default now; the seed's updatepaidDate). Marking
    it paid again is answered with the purchase as it is: the first paid date stays."""
    if paid_at is not None and timezone.is_naive(paid_at):
        raise ValidationError("paid_at must be an aware datetime.")
    if payment_method:
        _payment_method_validate(payment_method)
    purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
    if purchase.status == Purchase.Status.PAID:
        return purchase
    if purchase.status == Purchase.Status.VOID:
        raise ValidationError(f"Purchase {purchase.pk} is void and cannot be paid.")
    purchase.status = Purchase.Status.PAID
    purchase.paid_at = paid_at or timezone.now()
    if payment_method:
        purchase.payment_method = payment_method
    purchase.save(update_fields=["status", "paid_at", "payment_method", "updated_at"])
    return purchase


@transaction.atomic
def purchase_set_total_price(*, purchase_id: int, total_price: Decimal | str) -> Purchase:
    """Set the total by hand (the seed's updateTotalPrice), e.g. an operator's goodwill
    correction. VAT is split out at the tariff's rate. Not allowed once paid; a later
    re-price (late samples) replaces it with the computed price."""
    try:
        total = Decimal(str(total_price))
    except InvalidOperation:
        raise ValidationError(f"{total_price!r} is not an amount.") from None
    if not total.is_finite() or total < 0:
        raise ValidationError(f"{total_price!r} is not a non-negative amount.")
    if total != total.quantize(CENTS):
        raise ValidationError(f"{total_price!r} has more than two decimals.")
    purchase = Purchase.objects.select_for_update(of=("self",)).select_related("tariff").get(pk=purchase_id)
    if purchase.status in (Purchase.Status.PAID, Purchase.Status.VOID):
        raise ValidationError(f"Purchase {purchase.pk} is {purchase.status}; its total can no longer change.")
    vat_percent = purchase.tariff.vat_percent if purchase.tariff is not None else Decimal(0)
    purchase.subtotal = (total * 100 / (100 + vat_percent)).quantize(CENTS, rounding=ROUND_HALF_UP)
    purchase.vat_amount = total - purchase.subtotal
    purchase.total_price = total
    purchase.save(update_fields=["subtotal", "vat_amount", "total_price", "updated_at"])
    return purchase
