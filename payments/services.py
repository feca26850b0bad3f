"""Writes of the payments area: paying purchases, topping up wallets, applying provider
results, webhooks, and pre-authorisation reservations.

State only moves through conditional updates (`filter(status=...).update(...)`), so a
result applied twice, a replayed webhook or a poll racing a webhook changes nothing the
second time. Provider calls happen outside database transactions; what they answer is
then applied in one short transaction.

Order of payment states: pending -> error | canceled -> success. A failure never
overrides a success; a success reported by the provider (money really moved) overrides an
earlier failure or cancellation, because otherwise the driver's money would be lost.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.errors import Conflict, InvalidRequest, NotAllowed, NotFound, PaymentRequired, Unavailable, UpstreamFailed
from billing import wallet as ledger
from billing.models import PaymentMethod, Purchase, WalletEntry
from ocpp_consumer.command_errors import ChargerOffline, CommandError, CommandTimeout, CommandUnavailable
from ocpp_consumer.remote_control import remote_start, remote_stop
from payments import events
from payments.errors import ProviderError
from payments.models import Payment, Provider, Reservation, SandboxInvoice, WebhookEvent
from payments.providers import get_provider
from payments.providers.base import public_url, scrub
from payments.selectors import PROVIDER_OPTION, option_provider, payment_find_for_user
from payments.signals import sandbox_invoice_decided

__all__ = [
    "purchase_pay",
    "payment_status",
    "wallet_replenish",
    "replenishment_status",
    "payment_apply_result",
    "payment_refresh",
    "payment_expire_stale",
    "webhook_record",
    "stripe_webhook_handle",
    "provider_callback_handle",
    "sandbox_invoice_decide",
    "klarna_authorize",
    "reservation_create",
    "reservation_confirm",
    "reservation_cancel",
    "reservation_settle_for_session",
    "reservation_check_energy_limit",
    "reservation_release_stale",
]

logger = logging.getLogger(__name__)

FINAL_FAILURES = (Payment.Status.ERROR, Payment.Status.CANCELED)
MAX_ANSWERS = 20


def _now():
    return timezone.now()


def _append_answer(model, pk, answer: dict) -> None:
    """Keep a provider answer (secrets removed) for operators; bounded in length."""
    row = model.objects.filter(pk=pk).values_list("provider_answers", flat=True).first()
    answers = list(row or [])[-(MAX_ANSWERS - 1) :] + [scrub({"at": _now().isoformat(), **answer})]
    model.objects.filter(pk=pk).update(provider_answers=answers)


# --- paying a purchase ------------------------------------------------------------------


@dataclass(frozen=True)
class Invoice:
    """What a driver pays with: a provider's invoice (url, and Klarna's widget token), or for
    the wallet (and a free purchase) the purchase itself, with the wallet's new balance."""

    option: str
    invoice_id: str
    url: str | None = None
    client_token: str | None = None
    new_balance: Decimal | None = None


@dataclass(frozen=True)
class PaymentState:
    status: str
    amount: Decimal


def _invoice(option: str, payment: Payment) -> Invoice:
    return Invoice(
        option=option,
        invoice_id=str(payment.public_id),
        url=payment.checkout_url,
        client_token=payment.client_token or None,
    )


def purchase_pay(*, purchase_id: int, user_id: int, option: str) -> Invoice:
    """Pay one of the driver's purchases with an option of payment_options().

    EVM answers at once with the new balance; the other options answer with an invoice URL
    and finish later (webhook or polling), which emits a PAYMENT event.
    """
    option = (option or "").upper()
    provider_name = option_provider(option)
    if provider_name is None:
        raise InvalidRequest(f"The payment option {option or '(none)'} is not available.", code="option_disabled")
    if provider_name == Provider.WALLET:
        return _purchase_pay_from_wallet(purchase_id=purchase_id, user_id=user_id)

    with transaction.atomic():
        purchase = _lock_payable_purchase(purchase_id=purchase_id, user_id=user_id)
        if purchase.total_price <= 0:
            return _purchase_mark_free(purchase=purchase, option=option)
        reusable = (
            purchase.payments.filter(status=Payment.Status.PENDING, provider=provider_name, amount=purchase.total_price)
            .exclude(checkout_url="")
            .first()
        )
        if reusable is not None:
            return _invoice(option, reusable)
        payment = Payment.objects.create(
            provider=provider_name,
            purpose=Payment.Purpose.PURCHASE,
            purchase=purchase,
            user_id=user_id,
            amount=purchase.total_price,
            currency=purchase.currency,
            idempotency_key=f"{provider_name}-purchase-{purchase.pk}-{uuid.uuid4().hex[:12]}",
        )
        Purchase.objects.filter(pk=purchase.pk, status=Purchase.Status.OPEN).update(status=Purchase.Status.PENDING)
    payment = _payment_open_at_provider(payment=payment, description=f"Charging, purchase {purchase.pk}")
    return _invoice(option, payment)


def _lock_payable_purchase(*, purchase_id: int, user_id: int) -> Purchase:
    purchase = Purchase.objects.select_for_update().filter(pk=purchase_id, user_id=user_id).first()
    if purchase is None:
        raise NotFound("No such purchase.")
    if purchase.status == Purchase.Status.PAID:
        raise Conflict("This purchase is already paid.", code="already_paid")
    if purchase.status == Purchase.Status.VOID:
        raise Conflict("This purchase was voided.", code="not_payable")
    if purchase.priced_at is None and purchase.total_price <= 0:
        raise Conflict("This purchase is not priced yet.", code="not_payable")
    return purchase


def _purchase_mark_free(*, purchase: Purchase, option: str) -> Invoice:
    Purchase.objects.filter(pk=purchase.pk).update(status=Purchase.Status.PAID, paid_at=_now(), payment_method=option)
    user_id = purchase.user_id
    transaction.on_commit(
        lambda: events.emit(user_id, events.PAYMENT, {"status": "success", "amount": Decimal("0.00")})
    )
    new_balance = ledger.wallet_balance(user_id=user_id) if option == "EVM" else None
    return Invoice(option=option, invoice_id=str(purchase.pk), new_balance=new_balance)


def _purchase_pay_from_wallet(*, purchase_id: int, user_id: int) -> Invoice:
    with transaction.atomic():
        purchase = _lock_payable_purchase(purchase_id=purchase_id, user_id=user_id)
        if purchase.total_price <= 0:
            return _purchase_mark_free(purchase=purchase, option="EVM")
        payment = Payment.objects.create(
            provider=Provider.WALLET,
            purpose=Payment.Purpose.PURCHASE,
            purchase=purchase,
            user_id=user_id,
            amount=purchase.total_price,
            currency=purchase.currency,
            idempotency_key=f"wallet-purchase-{purchase.pk}",
        )
        try:
            new_balance = ledger.wallet_debit_for_purchase(
                user_id=user_id, purchase_id=purchase.pk, payment_id=payment.pk
            )
        except ledger.InsufficientBalance as exc:
            raise PaymentRequired(exc.message, code="insufficient_balance") from None
        except ledger.WalletError as exc:
            code = "already_paid" if exc.code == "already_debited" else exc.code
            raise Conflict(exc.message, code=code) from None
        payment_apply_result(payment_id=payment.pk, status=Payment.Status.SUCCESS, answer={"call": "wallet_debit"})
    return Invoice(option="EVM", invoice_id=str(purchase.pk), new_balance=new_balance)


def _payment_open_at_provider(*, payment: Payment, description: str) -> Payment:
    """Create the invoice at the provider; a failure leaves the purchase payable again."""
    provider = get_provider(payment.provider)
    try:
        created = provider.invoice_create(payment, description=description)
    except ProviderError as exc:
        logger.warning("payment %s: %s could not create the invoice: %s", payment.pk, payment.provider, exc)
        _append_answer(Payment, payment.pk, {"call": "invoice_create", "error": str(exc), **exc.answer})
        payment_apply_result(
            payment_id=payment.pk, status=Payment.Status.ERROR, reason=f"Provider unavailable: {exc}"[:300]
        )
        raise UpstreamFailed("The payment provider is unavailable; please try again.", code="provider_error") from None
    try:
        Payment.objects.filter(pk=payment.pk).update(
            provider_reference=created.reference,
            checkout_url=created.url,
            client_token=created.client_token,
        )
    except IntegrityError:
        # The provider handed back an invoice another payment already holds: never share it.
        payment_apply_result(payment_id=payment.pk, status=Payment.Status.ERROR, reason="Duplicate provider reference")
        raise UpstreamFailed("The payment provider answered inconsistently.", code="provider_error") from None
    _append_answer(Payment, payment.pk, {"call": "invoice_create", **created.answer})
    payment.refresh_from_db()
    return payment


def payment_status(*, user_id: int, invoice_id: str, purchase_id: int | None = None) -> PaymentState:
    """The status of a driver's payment; with `purchase_id`, only if it pays that purchase."""
    return _status_of(user_id=user_id, invoice_id=invoice_id, purpose=Payment.Purpose.PURCHASE, purchase_id=purchase_id)


def _status_of(*, user_id: int, invoice_id: str, purpose: str, purchase_id: int | None = None) -> PaymentState:
    payment = payment_find_for_user(user_id=user_id, invoice_id=invoice_id, purpose=purpose, purchase_id=purchase_id)
    if payment is None:
        raise NotFound("No such invoice.")
    if payment.status == Payment.Status.PENDING and payment.provider_reference:
        # The driver asks because they think they paid: ask the provider now.
        try:
            payment_refresh(payment_id=payment.pk)
        except ProviderError:
            pass
        payment.refresh_from_db()
    return PaymentState(status=payment.status, amount=payment.amount)


# --- wallet top-up ----------------------------------------------------------------------


def wallet_replenish(*, user_id: int, amount: Decimal, option: str) -> Invoice:
    """Open an invoice that, once paid, adds `amount` to the driver's wallet."""
    if not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidRequest("The amount must be positive, with at most two decimals.", code="invalid_amount")
    option = (option or "").upper()
    provider_name = option_provider(option)
    if provider_name is None or provider_name == Provider.WALLET:
        raise InvalidRequest(f"The payment option {option or '(none)'} cannot top up a wallet.", code="option_disabled")
    wallet = ledger.wallet_get_or_create(user_id=user_id)
    payment = Payment.objects.create(
        provider=provider_name,
        purpose=Payment.Purpose.TOP_UP,
        user_id=user_id,
        amount=amount,
        currency=wallet.currency,
        idempotency_key=f"{provider_name}-topup-{user_id}-{uuid.uuid4().hex[:12]}",
    )
    payment = _payment_open_at_provider(payment=payment, description="Wallet top-up")
    return _invoice(option, payment)


def replenishment_status(*, user_id: int, invoice_id: str) -> PaymentState:
    return _status_of(user_id=user_id, invoice_id=invoice_id, purpose=Payment.Purpose.TOP_UP)


# --- applying results -------------------------------------------------------------------


def _event_kind(payment: Payment) -> str:
    return events.PAYMENT if payment.purpose == Payment.Purpose.PURCHASE else events.REPLENISHMENT


def _emit_after_commit(payment: Payment, status: str) -> None:
    user_id, kind, amount = payment.user_id, _event_kind(payment), payment.amount
    transaction.on_commit(lambda: events.emit(user_id, kind, {"status": status, "amount": amount}))


@transaction.atomic
def payment_apply_result(
    *,
    payment_id: int,
    status: str,
    answer: dict | None = None,
    reason: str = "",
    paid_amount: Decimal | None = None,
) -> bool:
    """Move a payment to a result, at most once. Returns True when something changed."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if answer:
        _append_answer(Payment, payment.pk, answer)
    if status == Payment.Status.PENDING or payment.status == status or payment.status == Payment.Status.SUCCESS:
        return False
    if status in FINAL_FAILURES:
        return _payment_fail(payment=payment, status=status, reason=reason)
    if status != Payment.Status.SUCCESS:
        raise ValueError(f"unknown payment status {status!r}")
    if paid_amount is not None and paid_amount < payment.amount:
        logger.warning(
            "payment %s: provider reports %s of %s paid; still pending", payment.pk, paid_amount, payment.amount
        )
        return False
    if payment.purpose == Payment.Purpose.TOP_UP:
        return _payment_succeed_top_up(payment=payment)
    return _payment_succeed_purchase(payment=payment)


def _payment_fail(*, payment: Payment, status: str, reason: str) -> bool:
    changed = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
        status=status,
        failure_reason=reason[:300],
        completed_at=_now(),
    )
    if not changed:
        return False
    if (
        payment.purchase_id
        and not Payment.objects.filter(purchase_id=payment.purchase_id, status=Payment.Status.PENDING).exists()
    ):
        # Nothing else in flight: the purchase is payable again.
        Purchase.objects.filter(pk=payment.purchase_id, status=Purchase.Status.PENDING).update(
            status=Purchase.Status.OPEN
        )
    _emit_after_commit(payment, "fail")
    return True


def _payment_succeed_top_up(*, payment: Payment) -> bool:
    changed = Payment.objects.filter(pk=payment.pk, status__in=[Payment.Status.PENDING, *FINAL_FAILURES]).update(
        status=Payment.Status.SUCCESS,
        failure_reason="",
        completed_at=_now(),
    )
    if not changed:
        return False
    ledger.wallet_top_up(
        user_id=payment.user_id,
        amount=payment.amount,
        idempotency_key=f"topup-payment-{payment.pk}",
        payment_id=payment.pk,
    )
    _emit_after_commit(payment, "success")
    return True


def _payment_succeed_purchase(*, payment: Payment) -> bool:
    purchase = Purchase.objects.select_for_update().get(pk=payment.purchase_id)
    if purchase.status == Purchase.Status.PAID or purchase.status == Purchase.Status.VOID:
        # Money arrived for a purchase that is already settled (two invoices both paid):
        # keep it for the driver as wallet credit rather than losing it.
        changed = Payment.objects.filter(pk=payment.pk, status__in=[Payment.Status.PENDING, *FINAL_FAILURES]).update(
            status=Payment.Status.ERROR,
            completed_at=_now(),
            failure_reason="Paid after the purchase was settled; the amount was credited to the wallet.",
        )
        if changed:
            ledger.wallet_credit(
                user_id=payment.user_id,
                amount=payment.amount,
                kind=WalletEntry.Kind.REFUND,
                idempotency_key=f"refund-payment-{payment.pk}",
                payment_id=payment.pk,
                purchase_id=purchase.pk,
                note=f"Second payment of purchase {purchase.pk}",
            )
        return bool(changed)
    changed = Payment.objects.filter(pk=payment.pk, status__in=[Payment.Status.PENDING, *FINAL_FAILURES]).update(
        status=Payment.Status.SUCCESS,
        failure_reason="",
        completed_at=_now(),
    )
    if not changed:
        return False
    Purchase.objects.filter(pk=purchase.pk).exclude(status=Purchase.Status.PAID).update(
        status=Purchase.Status.PAID,
        paid_at=_now(),
        payment_method=PROVIDER_OPTION[payment.provider],
    )
    _emit_after_commit(payment, "success")
    return True


def payment_refresh(*, payment_id: int) -> str:
    """Ask the provider about a pending payment and apply the answer. Returns the status."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != Payment.Status.PENDING or not payment.provider_reference:
        return payment.status
    checked = get_provider(payment.provider).invoice_check(payment)
    payment_apply_result(
        payment_id=payment.pk,
        status=checked.status,
        paid_amount=checked.paid_amount,
        answer={"call": "invoice_check", **checked.answer} if checked.status != Payment.Status.PENDING else None,
        reason=f"{payment.provider} reports {checked.status}",
    )
    return Payment.objects.values_list("status", flat=True).get(pk=payment.pk)


def payment_expire_stale(*, payment_id: int) -> str:
    """Give up a pending invoice that is older than the TTL: cancel it at the provider,
    but only after a last check, so an invoice paid at the last second still counts."""
    status = payment_refresh(payment_id=payment_id)
    if status != Payment.Status.PENDING:
        return status
    payment = Payment.objects.get(pk=payment_id)
    try:
        answer = get_provider(payment.provider).invoice_cancel(payment)
    except ProviderError as exc:
        logger.info("payment %s: could not cancel at %s (%s); will try again", payment.pk, payment.provider, exc)
        return Payment.Status.PENDING
    payment_apply_result(
        payment_id=payment.pk,
        status=Payment.Status.CANCELED,
        answer={"call": "invoice_cancel", **answer},
        reason="Not paid in time",
    )
    return Payment.objects.values_list("status", flat=True).get(pk=payment.pk)


# --- webhooks -----------------------------------------------------------------------------


def webhook_record(*, provider: str, event_id: str, event_type: str, payload: dict) -> WebhookEvent | None:
    """Store a webhook once. None means this event was already processed; an event stored
    but never processed (we crashed half-way) is handed back to be applied again, which is
    safe because every state change it makes is conditional."""
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                provider=provider,
                event_id=event_id[:200],
                event_type=event_type[:100],
                payload=scrub(payload),
            )
    except IntegrityError:
        return WebhookEvent.objects.filter(
            provider=provider, event_id=event_id[:200], processed_at__isnull=True
        ).first()


def _webhook_done(event: WebhookEvent) -> None:
    WebhookEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(processed_at=_now())


def provider_callback_handle(*, provider: str, public_id: uuid.UUID | str, event_id: str, payload: dict) -> str:
    """A QPay / Klarna / sandbox callback. Its content is not trusted: it only tells us
    which invoice to re-check with the provider, and each event id is applied once."""
    payment = Payment.objects.filter(public_id=public_id, provider=provider).first()
    if payment is None:
        raise NotFound("Unknown invoice.")
    event = webhook_record(
        provider=provider, event_id=event_id or f"callback-{uuid.uuid4().hex}", event_type="callback", payload=payload
    )
    if event is None:
        return "duplicate"
    status = payment_refresh(payment_id=payment.pk)
    _webhook_done(event)
    return status


def stripe_webhook_handle(*, payload: bytes, signature: str) -> str:
    """Verify the Stripe-Signature (HMAC-SHA256 over "t.payload", tolerance window), store
    the event once, and apply it. Raises InvalidRequest (code "bad_signature") on a bad signature."""
    import stripe

    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise Unavailable("Stripe webhooks are not configured.", code="not_configured")
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    try:
        stripe.WebhookSignature.verify_header(text, signature or "", secret, settings.STRIPE_WEBHOOK_TOLERANCE)
    except stripe.SignatureVerificationError:
        raise InvalidRequest("Invalid Stripe signature.", code="bad_signature") from None
    try:
        event = json.loads(text)
        event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest("Malformed Stripe event.", code="bad_payload") from None
    record = webhook_record(provider=Provider.STRIPE, event_id=event_id, event_type=event_type, payload=event)
    if record is None:
        return "duplicate"
    _stripe_event_apply(event_type=event_type, obj=obj)
    _webhook_done(record)
    return "processed"


def _stripe_event_apply(*, event_type: str, obj: dict) -> None:
    metadata = obj.get("metadata") or {}
    reservation_id = metadata.get("reservation_id")
    payment_public_id = metadata.get("payment_id")
    if reservation_id:
        _stripe_reservation_event(event_type=event_type, obj=obj, reservation_id=reservation_id)
    elif payment_public_id and event_type.startswith("checkout.session."):
        payment = Payment.objects.filter(public_id=payment_public_id, provider=Provider.STRIPE).first()
        if payment is not None:
            # Ask Stripe rather than trusting the event's copy: out-of-order events then
            # converge on Stripe's current state.
            try:
                payment_refresh(payment_id=payment.pk)
            except ProviderError:
                logger.warning("payment %s: Stripe check after webhook failed; the poller will retry", payment.pk)


def _stripe_reservation_event(*, event_type: str, obj: dict, reservation_id: str) -> None:
    try:
        reservation = Reservation.objects.filter(pk=uuid.UUID(str(reservation_id))).first()
    except ValueError:
        return
    if reservation is None:
        return
    _append_answer(
        Reservation, reservation.pk, {"call": f"webhook:{event_type}", "id": obj.get("id"), "status": obj.get("status")}
    )
    if event_type == "checkout.session.completed":
        # A signed event names the reservation only in metadata, which whoever creates a
        # checkout session chooses: it authorises only the Stripe reservation whose own
        # checkout session it is.
        if (
            reservation.provider != Provider.STRIPE
            or not reservation.checkout_session_id
            or obj.get("id") != reservation.checkout_session_id
        ):
            logger.warning(
                "reservation %s: ignored %s of checkout session %r (not this reservation's)",
                reservation.pk,
                event_type,
                str(obj.get("id"))[:100],
            )
            return
        intent = obj.get("payment_intent")
        intent_id = intent.get("id") if isinstance(intent, dict) else intent
        _reservation_authorize(reservation=reservation, payment_intent_id=intent_id or "")
    elif event_type == "checkout.session.expired":
        _reservation_move(
            reservation, [Reservation.Status.PENDING], Reservation.Status.CANCELED, cancel_reason="checkout_expired"
        )
    elif event_type == "payment_intent.canceled":
        _reservation_move(
            reservation,
            [Reservation.Status.PENDING, Reservation.Status.AUTHORIZED, Reservation.Status.STARTED],
            Reservation.Status.RELEASED,
            cancel_reason=obj.get("cancellation_reason") or "authorization_canceled",
        )


def _reservation_move(reservation: Reservation, from_states: list[str], to_state: str, **fields) -> bool:
    return bool(Reservation.objects.filter(pk=reservation.pk, status__in=from_states).update(status=to_state, **fields))


def sandbox_invoice_decide(*, reference: uuid.UUID | str, outcome: str) -> SandboxInvoice:
    """The sandbox pay page's buttons: pay (or authorise a hold), decline, or cancel.
    Then the sandbox "provider" notifies us, like a real provider's webhook."""
    invoice = SandboxInvoice.objects.filter(reference=reference).first()
    if invoice is None:
        raise NotFound("Unknown sandbox invoice.")
    targets = {
        "pay": SandboxInvoice.Status.AUTHORIZED
        if invoice.kind == SandboxInvoice.Kind.HOLD
        else SandboxInvoice.Status.PAID,
        "decline": SandboxInvoice.Status.DECLINED,
        "cancel": SandboxInvoice.Status.CANCELED,
    }
    if outcome not in targets:
        raise InvalidRequest("Unknown outcome.")
    changed = SandboxInvoice.objects.filter(pk=invoice.pk, status=SandboxInvoice.Status.PENDING).update(
        status=targets[outcome]
    )
    invoice.refresh_from_db()
    if changed:
        reference_str, event_id = str(invoice.reference), f"sbx-{invoice.reference.hex}-{invoice.status}"
        transaction.on_commit(
            lambda: sandbox_invoice_decided.send(sender=SandboxInvoice, reference=reference_str, event_id=event_id)
        )
    return invoice


def sandbox_notification_handle(*, reference: str, event_id: str) -> str:
    """What the sandbox "provider" delivers after a decision: re-check and apply once."""
    event = webhook_record(
        provider=Provider.SANDBOX, event_id=event_id, event_type="notification", payload={"reference": reference}
    )
    if event is None:
        return "duplicate"
    payment = Payment.objects.filter(provider=Provider.SANDBOX, provider_reference=reference).first()
    result = "ignored"
    if payment is not None:
        result = payment_refresh(payment_id=payment.pk)
    else:
        reservation = Reservation.objects.filter(provider=Provider.SANDBOX, checkout_session_id=reference).first()
        if reservation is not None:
            result = _reservation_refresh(reservation=reservation)
    _webhook_done(event)
    return result


def klarna_authorize(*, invoice_id: str, authorization_token: str) -> PaymentState:
    """The Klarna widget authorised the payment: create the order, then capture it
    (Klarna's "finalize") so the payment is really paid."""
    payment = Payment.objects.filter(public_id=invoice_id, provider=Provider.KLARNA).first()
    if payment is None:
        raise NotFound("Unknown invoice.")
    if payment.status == Payment.Status.SUCCESS:
        return PaymentState(status=payment.status, amount=payment.amount)
    if payment.status != Payment.Status.PENDING:
        raise Conflict(f"This invoice is {payment.status}.", code="invalid_state")
    provider = get_provider(Provider.KLARNA)
    description = (
        "Wallet top-up" if payment.purpose == Payment.Purpose.TOP_UP else f"Charging, purchase {payment.purchase_id}"
    )
    try:
        order = provider.order_create(payment, authorization_token=authorization_token, description=description)
    except ProviderError as exc:
        _append_answer(Payment, payment.pk, {"call": "order_create", "error": str(exc), **exc.answer})
        if not exc.retryable:
            payment_apply_result(payment_id=payment.pk, status=Payment.Status.ERROR, reason="Klarna refused the order")
        raise UpstreamFailed("Klarna could not create the order.", code="provider_error") from None
    _append_answer(Payment, payment.pk, order)
    if order.get("fraud_status") == "REJECTED":
        payment_apply_result(payment_id=payment.pk, status=Payment.Status.ERROR, reason="Klarna rejected the order")
    elif order.get("fraud_status") in (None, "ACCEPTED"):
        try:
            _append_answer(
                Payment,
                payment.pk,
                provider.order_capture(Payment.objects.get(pk=payment.pk), order_id=order["order_id"]),
            )
        except ProviderError as exc:
            # The order exists: the poller's check retries the capture (KlarnaProvider.invoice_check).
            _append_answer(Payment, payment.pk, {"call": "order_capture", "error": str(exc)})
        else:
            payment_apply_result(payment_id=payment.pk, status=Payment.Status.SUCCESS, answer={"call": "finalized"})
    payment.refresh_from_db()
    return PaymentState(status=payment.status, amount=payment.amount)


# --- pre-authorisation reservations (seed 004) -------------------------------------------


def _reservation_provider_name() -> str:
    if get_provider(Provider.STRIPE).is_configured():
        return Provider.STRIPE
    if get_provider(Provider.SANDBOX).is_configured():
        return Provider.SANDBOX
    raise Unavailable("Payments are not enabled.", code="option_disabled")


def reservation_create(
    *, identity: str, connector_id: int, charge_tag: str, operator_id: int | None = None, idempotency_key: str = ""
) -> Reservation:
    """Reserve funds before a remote start: a checkout (checkout_url) for the maximum amount.

    With an `idempotency_key` (the client's Idempotency-Key header), a retried Create gets
    the same reservation and checkout, and no second hold; the same key with other
    parameters is refused. Refused before the driver pays: an unknown or offline charger,
    an unknown connector, a tag the charger's protocol cannot carry (1.6 idTag: at most 20
    characters; 2.0.1 idToken: 36)."""
    from chargepoints.models import ChargePoint, Connector, IdToken, IdTokenStatus

    charge_points = ChargePoint.objects.filter(identity=identity)
    if operator_id is not None:
        charge_points = charge_points.filter(site__operator_id=operator_id)
    charge_point = charge_points.first()
    if charge_point is None:
        raise NotFound("Unknown charge point.")
    connector = Connector.objects.filter(charge_point=charge_point, connector_id=connector_id).first()
    if connector is None:
        raise NotFound("Unknown connector.")
    charge_tag = (charge_tag or "").strip()
    key = _idempotency_key(idempotency_key, operator_id)
    if key:
        earlier = Reservation.objects.filter(idempotency_key=key).first()
        if earlier is not None and _failed_at_provider(earlier):
            # No hold was made: a retry with the same key tries again (the failed row stays).
            Reservation.objects.filter(pk=earlier.pk).update(idempotency_key="")
        elif earlier is not None:
            return _reservation_replay(earlier, connector=connector, charge_tag=charge_tag)
    limit = _ID_TAG_LIMITS.get(charge_point.protocol, _ID_TAG_LIMITS["ocpp1.6"])
    if not charge_tag or len(charge_tag) > limit:
        raise InvalidRequest(
            f"chargeTagId must be 1 to {limit} characters for this charger ({charge_point.protocol or 'ocpp1.6'})."
        )
    if not charge_point.is_online:
        raise Unavailable("The charge point is offline; try again when it is back.", code="charger_offline")
    id_token = IdToken.objects.filter(uid=charge_tag).first()
    if id_token is not None and id_token.status != IdTokenStatus.ACCEPTED:
        raise NotAllowed(f"The charge tag is {id_token.status}.", code="invalid")
    provider_name = _reservation_provider_name()
    currency = settings.STRIPE_CURRENCY.upper() if provider_name == Provider.STRIPE else settings.PAYMENTS_CURRENCY
    try:
        with transaction.atomic():
            reservation = Reservation.objects.create(
                charge_point=charge_point,
                connector=connector,
                id_token=id_token,
                charge_tag=charge_tag,
                user=id_token.user if id_token else None,
                provider=provider_name,
                currency=currency,
                max_amount=settings.STRIPE_RESERVATION_MAX_AMOUNT,
                max_energy_wh=settings.STRIPE_RESERVATION_MAX_ENERGY_KWH * 1000,
                expires_at=_now() + timedelta(minutes=settings.PAYMENTS_RESERVATION_TTL_MINUTES),
                idempotency_key=key,
            )
    except IntegrityError:
        if not key:
            raise
        # A concurrent Create with the same key won the race: answer what it answers.
        earlier = Reservation.objects.get(idempotency_key=key)
        return _reservation_replay(earlier, connector=connector, charge_tag=charge_tag)
    return_base = public_url(reverse("payments:reservation-return"))
    success_url = (
        settings.STRIPE_SUCCESS_URL
        or f"{return_base}?reservationId={reservation.pk}&session_id={{CHECKOUT_SESSION_ID}}"
    )
    cancel_url = settings.STRIPE_CANCEL_URL or f"{return_base}?reservationId={reservation.pk}&canceled=1"
    try:
        created = get_provider(provider_name).hold_create(reservation, success_url=success_url, cancel_url=cancel_url)
    except ProviderError as exc:
        Reservation.objects.filter(pk=reservation.pk).update(
            status=Reservation.Status.FAILED, cancel_reason="provider_error"
        )
        _append_answer(Reservation, reservation.pk, {"call": "hold_create", "error": str(exc), **exc.answer})
        raise UpstreamFailed("The payment provider is unavailable; please try again.", code="provider_error") from None
    Reservation.objects.filter(pk=reservation.pk).update(
        checkout_session_id=created.reference, checkout_url=created.url
    )
    _append_answer(Reservation, reservation.pk, {"call": "hold_create", **created.answer})
    reservation.refresh_from_db()
    return reservation


# The longest id tag each protocol carries (1.6 idTag CiString20; 2.0.1 idToken 36).
_ID_TAG_LIMITS = {"ocpp1.6": 20, "ocpp2.0.1": 36}
_IDEMPOTENCY_KEY_MAX = 255
# How long a retried Create waits for the first one's checkout to exist.
_REPLAY_WAIT_S = 15.0


def _idempotency_key(raw: str, operator_id: int | None) -> str:
    raw = (raw or "").strip()
    if not raw:
        return ""
    if len(raw) > _IDEMPOTENCY_KEY_MAX or not raw.isprintable():
        raise InvalidRequest(f"Idempotency-Key must be 1 to {_IDEMPOTENCY_KEY_MAX} printable characters.")
    return f"{operator_id or 0}:{raw}"


def _failed_at_provider(reservation: Reservation) -> bool:
    return reservation.status == Reservation.Status.FAILED and reservation.cancel_reason == "provider_error"


def _reservation_replay(earlier: Reservation, *, connector, charge_tag: str) -> Reservation:
    """The answer a Create with a used Idempotency-Key gets: the first Create's."""
    if earlier.connector_id != connector.pk or earlier.charge_tag != charge_tag:
        raise Conflict(
            "This Idempotency-Key was used with other parameters; use a new key for a new reservation.",
            code="idempotency_key_reused",
        )
    deadline = time.monotonic() + _REPLAY_WAIT_S
    while not earlier.checkout_url and earlier.status == Reservation.Status.PENDING and time.monotonic() < deadline:
        time.sleep(0.2)  # (the first Create is still asking the provider)
        earlier.refresh_from_db()
    if _failed_at_provider(earlier):
        raise UpstreamFailed("The payment provider is unavailable; please try again.", code="provider_error")
    if not earlier.checkout_url:
        raise Conflict("The first request with this Idempotency-Key is still in progress.", code="in_progress")
    return earlier


def _reservation_get(reservation_id, operator_id: int | None = None) -> Reservation:
    try:
        qs = Reservation.objects.select_related("charge_point", "connector").filter(pk=uuid.UUID(str(reservation_id)))
    except ValueError:
        raise NotFound("Unknown reservation.") from None
    if operator_id is not None:
        qs = qs.filter(charge_point__site__operator_id=operator_id)
    reservation = qs.first()
    if reservation is None:
        raise NotFound("Unknown reservation.")
    return reservation


def _reservation_authorize(*, reservation: Reservation, payment_intent_id: str) -> bool:
    fields = {"status": Reservation.Status.AUTHORIZED}
    if payment_intent_id:
        fields["payment_intent_id"] = payment_intent_id
    try:
        return bool(Reservation.objects.filter(pk=reservation.pk, status=Reservation.Status.PENDING).update(**fields))
    except IntegrityError:
        logger.error("reservation %s: payment intent already belongs to another reservation", reservation.pk)
        return False


def _reservation_refresh(*, reservation: Reservation) -> str:
    """Ask the provider whether a pending reservation is authorised now."""
    if reservation.status != Reservation.Status.PENDING or not reservation.checkout_session_id:
        return reservation.status
    checked = get_provider(reservation.provider).hold_check(reservation)
    if checked.authorized:
        _reservation_authorize(reservation=reservation, payment_intent_id=checked.payment_intent_id)
    elif checked.failed:
        _reservation_move(
            reservation, [Reservation.Status.PENDING], Reservation.Status.CANCELED, cancel_reason="checkout_failed"
        )
    return Reservation.objects.values_list("status", flat=True).get(pk=reservation.pk)


def reservation_confirm(*, reservation_id: str, checkout_session_id: str, operator_id: int | None = None) -> str:
    """After the checkout: check the authorisation, then issue the remote start and return
    the charger's real answer ("Accepted", "Rejected", or "Timeout").

    Retried or concurrent calls never start twice and never answer what the charger did
    not say: a call that finds a start in flight waits for its answer and reports it; once
    the charger accepted, every call answers Accepted; a Rejected or Timeout start leaves
    the reservation authorised (the hold stays until it expires or is cancelled), so the
    next Confirm tries again."""
    reservation = _reservation_get(reservation_id, operator_id)
    if not checkout_session_id or checkout_session_id != reservation.checkout_session_id:
        raise InvalidRequest("checkoutSessionId does not belong to this reservation.")
    if reservation.status == Reservation.Status.PENDING:
        try:
            status = _reservation_refresh(reservation=reservation)
        except ProviderError:
            raise UpstreamFailed(
                "The payment provider is unavailable; please try again.",
                code="provider_error",
            ) from None
        if status == Reservation.Status.PENDING:
            raise PaymentRequired("The payment is not authorised yet.", code="payment_pending")
        reservation.refresh_from_db()
    if reservation.status == Reservation.Status.STARTED:
        return _reservation_start_outcome(reservation=reservation)
    if reservation.status != Reservation.Status.AUTHORIZED:
        raise Conflict(f"The reservation is {reservation.status}.", code="invalid_state")
    # Claim the start, so two confirmations cannot both send a RemoteStart.
    if not _reservation_move(
        reservation, [Reservation.Status.AUTHORIZED], Reservation.Status.STARTED, start_answer="", updated_at=_now()
    ):
        reservation.refresh_from_db()
        if reservation.status == Reservation.Status.STARTED:
            return _reservation_start_outcome(reservation=reservation)
        raise Conflict(f"The reservation is {reservation.status}.", code="invalid_state")
    return _reservation_remote_start(reservation=reservation)


# How often a Confirm that found a start in flight looks for its answer, and how long past
# the command timeout it waits before taking the start for lost.
_START_POLL_S = 0.2
_START_MARGIN_S = 5


def _reservation_start_outcome(*, reservation: Reservation) -> str:
    """The answer of the start another call made: at once if it is known, else after
    waiting for it (at most the command timeout and a margin)."""
    from ocpp_consumer.commands import release_database_connection

    patience = timedelta(seconds=settings.OCPP_COMMAND_TIMEOUT + _START_MARGIN_S)
    while True:
        status, answer, claimed_at = Reservation.objects.values_list("status", "start_answer", "updated_at").get(
            pk=reservation.pk
        )
        if status == Reservation.Status.STARTED and answer:
            return answer
        if status != Reservation.Status.STARTED:
            return _start_failure_answer(answer)
        if _now() - claimed_at > patience:
            # The claimer never recorded an answer (its process died): free the claim, so
            # the next Confirm starts again.
            _reservation_start_failed(reservation, "Timeout")
            return "Timeout"
        release_database_connection()
        time.sleep(_START_POLL_S)


def _start_failure_answer(answer: str) -> str:
    """What the start that failed told its caller, told again to a caller who waited for it."""
    if answer == "Offline":
        raise Unavailable("The charge point is offline; try again when it is back.", code="charger_offline")
    if answer == "Unavailable":
        raise Unavailable("Commands cannot reach chargers now; try again shortly.", code="commands_unavailable")
    if answer == "Error":
        raise UpstreamFailed("The remote start failed.", code="command_error")
    return answer or "Rejected"


def _reservation_remote_start(*, reservation: Reservation) -> str:
    """Send the claimed start; record the charger's answer. Only Accepted keeps the
    reservation STARTED: anything else makes it AUTHORIZED again, to be retried."""
    try:
        answer = remote_start(
            charge_point=reservation.charge_point,
            connector=reservation.connector,
            id_tag=reservation.charge_tag,
            timeout=None,
        )
    except CommandTimeout:
        # The charger may still start: a session that appears is linked to the reservation
        # (it is AUTHORIZED again, which the linking accepts); if none does, the stale sweep
        # releases the funds at expiry. A retried Confirm sends the start again.
        _reservation_start_failed(reservation, "Timeout")
        return "Timeout"
    except ChargerOffline:
        _reservation_start_failed(reservation, "Offline")
        raise Unavailable("The charge point is offline; try again when it is back.", code="charger_offline") from None
    except CommandUnavailable as exc:
        _reservation_start_failed(reservation, "Unavailable")
        raise Unavailable(str(exc), code="commands_unavailable") from None
    except CommandError as exc:
        _reservation_start_failed(reservation, "Error")
        raise UpstreamFailed(f"The remote start failed: {exc}", code="command_error") from None
    status = (answer or {}).get("status") or "Rejected"
    if status == "Accepted":
        _append_answer(Reservation, reservation.pk, {"call": "remote_start", "status": status})
        Reservation.objects.filter(pk=reservation.pk, status=Reservation.Status.STARTED).update(start_answer=status)
    else:
        _reservation_start_failed(reservation, status)
    return status


def _reservation_start_failed(reservation: Reservation, status: str) -> None:
    """The start did not happen (as far as we know): AUTHORIZED again, so a Confirm can
    retry; never for a reservation whose session has started meanwhile."""
    _append_answer(Reservation, reservation.pk, {"call": "remote_start", "status": status})
    Reservation.objects.filter(pk=reservation.pk, status=Reservation.Status.STARTED, session__isnull=True).update(
        status=Reservation.Status.AUTHORIZED, start_answer=status
    )


def _reservation_release(*, reservation: Reservation, reason: str, from_states: list[str]) -> bool:
    try:
        answer = get_provider(reservation.provider).hold_release(reservation)
    except ProviderError as exc:
        _append_answer(Reservation, reservation.pk, {"call": "hold_release", "error": str(exc)})
        logger.warning("reservation %s: release failed (%s); the stale sweep retries", reservation.pk, exc)
        return False
    _append_answer(Reservation, reservation.pk, {"call": "hold_release", **answer})
    target = (
        Reservation.Status.CANCELED if reservation.status == Reservation.Status.PENDING else Reservation.Status.RELEASED
    )
    return _reservation_move(reservation, from_states, target, cancel_reason=reason[:100])


def reservation_cancel(*, reservation_id: str, reason: str = "", operator_id: int | None = None) -> Reservation:
    """Cancel a reservation that has not led to a session; authorised funds are released."""
    reservation = _reservation_get(reservation_id, operator_id)
    if reservation.status in (Reservation.Status.CANCELED, Reservation.Status.RELEASED, Reservation.Status.FAILED):
        return reservation
    if reservation.session_id is not None or reservation.status == Reservation.Status.CAPTURED:
        raise Conflict("A session already runs on this reservation; stop the session instead.", code="invalid_state")
    released = _reservation_release(
        reservation=reservation,
        reason=reason or "canceled",
        from_states=[Reservation.Status.PENDING, Reservation.Status.AUTHORIZED, Reservation.Status.STARTED],
    )
    if not released:
        reservation.refresh_from_db()
        if reservation.status not in (Reservation.Status.CANCELED, Reservation.Status.RELEASED):
            raise UpstreamFailed(
                "The payment provider could not release the funds; please retry.",
                code="provider_error",
            )
    reservation.refresh_from_db()
    return reservation


def _reservation_link_session(*, session_id: int) -> Reservation | None:
    """The reservation behind a session: linked already, or the started reservation on the
    same connector with the same tag, created before the session began."""
    from sessions_app.models import ChargeSession

    reservation = Reservation.objects.filter(session_id=session_id).first()
    if reservation is not None:
        return reservation
    session = ChargeSession.objects.filter(pk=session_id).first()
    if session is None or not session.id_tag:
        return None
    candidate = (
        Reservation.objects.filter(
            connector_id=session.connector_id,
            charge_tag=session.id_tag,
            session__isnull=True,
            status__in=[Reservation.Status.STARTED, Reservation.Status.AUTHORIZED],
            created_at__lte=session.started_at,
        )
        .order_by("-created_at")
        .first()
    )
    if candidate is None:
        return None
    if Reservation.objects.filter(pk=candidate.pk, session__isnull=True).update(
        session_id=session_id, status=Reservation.Status.STARTED, start_answer="Accepted"
    ):
        # The session may use no more energy than the reservation paid for.
        ChargeSession.objects.filter(pk=session_id, max_energy_wh__isnull=True).update(
            max_energy_wh=candidate.max_energy_wh
        )
    return Reservation.objects.filter(session_id=session_id).first()


def reservation_settle_for_session(*, session_id: int) -> Reservation | None:
    """Capture the priced amount of a finished session (never more than reserved) and
    release the rest; returns the reservation (status, captured_amount). None when there
    is nothing to settle (yet).

    Safe to run again, also after a run lost half-way (a killed worker): the amount is
    claimed once before the provider is asked, so a repeated run asks for the same capture
    under the same idempotency key and the provider answers it as the capture it made;
    every state change after it is conditional."""
    reservation = _reservation_link_session(session_id=session_id)
    if reservation is None:
        return None
    if reservation.status not in (Reservation.Status.STARTED, Reservation.Status.AUTHORIZED):
        return reservation
    purchase = Purchase.objects.filter(session_id=session_id).first()
    if purchase is None or purchase.priced_at is None:
        return None
    amount = reservation.capture_amount
    if amount is None:
        if purchase.status in (Purchase.Status.PAID, Purchase.Status.VOID):
            # Settled some other way (or voided): capturing would charge the driver twice.
            _reservation_release(
                reservation=reservation,
                reason=f"purchase_{purchase.status}",
                from_states=[Reservation.Status.STARTED, Reservation.Status.AUTHORIZED],
            )
            reservation.refresh_from_db()
            return reservation
        amount = _reservation_claim_capture(reservation=reservation, purchase=purchase)
    if amount <= 0:
        _reservation_release(
            reservation=reservation,
            reason="nothing_to_capture",
            from_states=[Reservation.Status.STARTED, Reservation.Status.AUTHORIZED],
        )
        Reservation.objects.filter(pk=reservation.pk, captured_amount__isnull=True).update(
            captured_amount=Decimal("0.00")
        )
        _purchase_settle_by_reservation(purchase=purchase, reservation=reservation, amount=Decimal("0.00"))
    else:
        _reservation_capture(reservation=reservation, purchase=purchase, amount=amount)
    reservation.refresh_from_db()
    return reservation


def _reservation_claim_capture(*, reservation: Reservation, purchase: Purchase) -> Decimal:
    """Fix what this reservation captures: the purchase's total, at most what was reserved.
    The first claim wins (a conditional update); every later run reads it, whatever the
    purchase costs by then."""
    amount = min(purchase.total_price, reservation.max_amount)
    if purchase.total_price > reservation.max_amount:
        logger.warning(
            "reservation %s: purchase %s costs %s, capturing the reserved %s",
            reservation.pk,
            purchase.pk,
            purchase.total_price,
            reservation.max_amount,
        )
    Reservation.objects.filter(pk=reservation.pk, capture_amount__isnull=True).update(capture_amount=amount)
    return Reservation.objects.values_list("capture_amount", flat=True).get(pk=reservation.pk)


def _reservation_capture(*, reservation: Reservation, purchase: Purchase, amount: Decimal) -> None:
    try:
        answer = get_provider(reservation.provider).hold_capture(reservation, amount=amount)
    except ProviderError as exc:
        _append_answer(Reservation, reservation.pk, {"call": "hold_capture", "error": str(exc), **exc.answer})
        if not exc.retryable:
            # e.g. the authorisation expired: the purchase stays open for another way to pay.
            _reservation_move(
                reservation,
                [Reservation.Status.STARTED, Reservation.Status.AUTHORIZED],
                Reservation.Status.FAILED,
                cancel_reason="capture_failed",
            )
        raise
    _append_answer(Reservation, reservation.pk, {"call": "hold_capture", **answer})
    with transaction.atomic():
        if _reservation_move(
            reservation,
            [Reservation.Status.STARTED, Reservation.Status.AUTHORIZED],
            Reservation.Status.CAPTURED,
            captured_amount=amount,
        ):
            _purchase_settle_by_reservation(purchase=purchase, reservation=reservation, amount=amount)


def _purchase_settle_by_reservation(*, purchase: Purchase, reservation: Reservation, amount: Decimal) -> None:
    user_id = purchase.user_id or reservation.user_id
    if amount > 0 and user_id is not None:
        payment, _ = Payment.objects.get_or_create(
            idempotency_key=f"reservation-{reservation.pk}-capture",
            defaults={
                "provider": reservation.provider,
                "purpose": Payment.Purpose.PURCHASE,
                "purchase": purchase,
                "user_id": user_id,
                "amount": amount,
                "currency": reservation.currency,
                "provider_reference": reservation.payment_intent_id or None,
            },
        )
        payment_apply_result(
            payment_id=payment.pk, status=Payment.Status.SUCCESS, answer={"call": "reservation_capture"}
        )
    else:
        # A zero total, or an anonymous charge tag (no driver to hold a payment row).
        Purchase.objects.filter(pk=purchase.pk).exclude(status=Purchase.Status.PAID).update(
            status=Purchase.Status.PAID,
            paid_at=_now(),
            payment_method=PaymentMethod.STRIPE if reservation.provider == Provider.STRIPE else PaymentMethod.SANDBOX,
        )


def reservation_enforce_energy_limits() -> int:
    """Check every active session paid by an open reservation against what it reserved;
    returns how many stops were requested. Run often by beat, so a pre-paid session
    overshoots its maxEnergyKwh by at most one interval of charging."""
    from sessions_app.models import ChargeSession

    open_states = [Reservation.Status.STARTED, Reservation.Status.AUTHORIZED]
    unlinked = Reservation.objects.filter(status__in=open_states, session__isnull=True)
    sessions = ChargeSession.objects.filter(status=ChargeSession.Status.ACTIVE).filter(
        Q(reservation__status=Reservation.Status.STARTED) | Q(connector_id__in=unlinked.values("connector_id"))
    )
    return sum(
        reservation_check_energy_limit(session_id=session_id) for session_id in sessions.values_list("id", flat=True)
    )


def reservation_check_energy_limit(*, session_id: int) -> bool:
    """Stop a pre-paid session once its energy reaches what the reservation bought.
    Returns True when a stop was requested now. Repeats at most every few minutes."""
    from django.core.cache import cache

    from sessions_app.models import ChargeSession

    reservation = _reservation_link_session(session_id=session_id)
    if reservation is None or reservation.status != Reservation.Status.STARTED:
        return False
    session = ChargeSession.objects.select_related("charge_point").filter(pk=session_id).first()
    if session is None or not session.is_active or session.energy_wh < reservation.max_energy_wh:
        return False
    if not cache.add(f"payments:reservation-stop:{reservation.pk}", 1, timeout=120):
        return False
    try:
        answer = remote_stop(session=session, timeout=None)
    except CommandError as exc:
        logger.warning(
            "session %s: energy limit reached, stop failed (%s); will retry", session_id, exc.__class__.__name__
        )
        cache.delete(f"payments:reservation-stop:{reservation.pk}")
        return False
    _append_answer(Reservation, reservation.pk, {"call": "remote_stop", "status": (answer or {}).get("status")})
    return True


def _reservation_adopt_session(*, reservation: Reservation) -> bool:
    """A session the charger did start on this reservation (e.g. after a start timeout)."""
    from sessions_app.models import ChargeSession

    session = (
        ChargeSession.objects.filter(
            connector_id=reservation.connector_id, id_tag=reservation.charge_tag, started_at__gte=reservation.created_at
        )
        .order_by("started_at")
        .first()
    )
    return session is not None and _reservation_link_session(session_id=session.pk) is not None


def reservation_release_stale() -> int:
    """Release reservations that never led to a session before they expired."""
    released = 0
    stale = Reservation.objects.filter(
        session__isnull=True,
        expires_at__lt=_now(),
        status__in=[Reservation.Status.PENDING, Reservation.Status.AUTHORIZED, Reservation.Status.STARTED],
    )
    for reservation in stale[:100]:
        if reservation.status != Reservation.Status.PENDING and _reservation_adopt_session(reservation=reservation):
            continue
        if reservation.status == Reservation.Status.PENDING and reservation.checkout_session_id:
            try:
                _reservation_refresh(reservation=reservation)
            except ProviderError:
                continue
            reservation.refresh_from_db()
        if reservation.session_id is None and _reservation_release(
            reservation=reservation,
            reason="expired",
            from_states=[Reservation.Status.PENDING, Reservation.Status.AUTHORIZED, Reservation.Status.STARTED],
        ):
            released += 1
    return released
