"""Stripe through the official `stripe` package: Checkout Sessions.

- holds: a Checkout Session in payment mode with capture_method=manual; capture at most the
  authorised amount later (Stripe releases the rest), or cancel the PaymentIntent to release.
- invoices: a Checkout Session with automatic capture, for a purchase or a top-up.

Every mutating call carries an idempotency key derived from our row, so a retry never
charges twice.
"""

from __future__ import annotations

from decimal import Decimal

import stripe
from django.conf import settings

from payments.errors import ProviderError
from payments.models import Payment
from payments.money import from_minor_units, to_minor_units

from .base import Checked, Created, HoldChecked, Provider, public_url, scrub


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
    )


def _dict(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _keep(session: dict) -> dict:
    keys = (
        "id",
        "object",
        "status",
        "payment_status",
        "amount_total",
        "currency",
        "payment_intent",
        "url",
        "capture_method",
        "amount_capturable",
        "amount_received",
    )
    kept = {k: session.get(k) for k in keys if k in session}
    if isinstance(kept.get("payment_intent"), dict):
        kept["payment_intent"] = {
            k: kept["payment_intent"].get(k) for k in ("id", "status", "amount_capturable", "amount_received")
        }
    return scrub(kept)


def _wrap(call):
    try:
        return call()
    except stripe.StripeError as exc:
        retryable = isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)) or (exc.http_status or 0) >= 500
        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        error = body.get("error") or {}
        raise ProviderError(
            f"Stripe: {error.get('code') or exc.__class__.__name__}",
            answer=scrub({"error": {k: error.get(k) for k in ("type", "code", "decline_code", "message")}}),
            retryable=retryable,
        ) from exc


def _line_item(*, amount: Decimal, currency: str, name: str) -> dict:
    return {
        "price_data": {
            "currency": currency.lower(),
            "unit_amount": to_minor_units(amount, currency),
            "product_data": {"name": name},
        },
        "quantity": 1,
    }


class StripeProvider(Provider):
    name = "stripe"
    supports_holds = True

    def is_configured(self) -> bool:
        return bool(settings.STRIPE_SECRET_KEY)

    # --- holds ---------------------------------------------------------------------------
    def hold_create(self, reservation, *, success_url: str, cancel_url: str) -> Created:
        params = {
            "mode": "payment",
            "line_items": [
                _line_item(
                    amount=reservation.max_amount,
                    currency=reservation.currency,
                    name=f"Charging at {reservation.charge_point_id} (pre-authorisation)",
                )
            ],
            "payment_intent_data": {"capture_method": "manual", "metadata": {"reservation_id": str(reservation.pk)}},
            "metadata": {"reservation_id": str(reservation.pk)},
            "client_reference_id": str(reservation.pk),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = _dict(
            _wrap(
                lambda: _client().v1.checkout.sessions.create(
                    params, {"idempotency_key": f"reservation-{reservation.pk}-checkout"}
                )
            )
        )
        return Created(reference=session["id"], url=session.get("url") or "", answer=_keep(session))

    def hold_check(self, reservation) -> HoldChecked:
        session = _dict(
            _wrap(
                lambda: _client().v1.checkout.sessions.retrieve(
                    reservation.checkout_session_id, {"expand": ["payment_intent"]}
                )
            )
        )
        intent = session.get("payment_intent")
        intent = intent if isinstance(intent, dict) else {"id": intent, "status": None}
        authorized = session.get("status") == "complete" and intent.get("status") in ("requires_capture", "succeeded")
        failed = session.get("status") == "expired" or intent.get("status") == "canceled"
        return HoldChecked(
            authorized=authorized, failed=failed, payment_intent_id=intent.get("id") or "", answer=_keep(session)
        )

    def hold_capture(self, reservation, *, amount: Decimal) -> dict:
        params = {"amount_to_capture": to_minor_units(amount, reservation.currency)}
        intent = _wrap(
            lambda: _client().v1.payment_intents.capture(
                reservation.payment_intent_id, params, {"idempotency_key": f"reservation-{reservation.pk}-capture"}
            )
        )
        return _keep(_dict(intent))

    def hold_release(self, reservation) -> dict:
        if reservation.payment_intent_id:
            intent = _wrap(
                lambda: _client().v1.payment_intents.cancel(
                    reservation.payment_intent_id, {}, {"idempotency_key": f"reservation-{reservation.pk}-release"}
                )
            )
            return _keep(_dict(intent))
        session = _wrap(
            lambda: _client().v1.checkout.sessions.expire(
                reservation.checkout_session_id, {}, {"idempotency_key": f"reservation-{reservation.pk}-expire"}
            )
        )
        return _keep(_dict(session))

    # --- invoices (pay now) --------------------------------------------------------------
    def invoice_create(self, payment, *, description: str) -> Created:
        return_url = public_url(f"/payments/return/?invoice={payment.public_id}")
        params = {
            "mode": "payment",
            "line_items": [_line_item(amount=payment.amount, currency=payment.currency, name=description[:200])],
            "metadata": {"payment_id": str(payment.public_id)},
            "payment_intent_data": {"metadata": {"payment_id": str(payment.public_id)}},
            "client_reference_id": str(payment.public_id),
            "success_url": return_url,
            "cancel_url": return_url,
        }
        session = _dict(
            _wrap(lambda: _client().v1.checkout.sessions.create(params, {"idempotency_key": payment.idempotency_key}))
        )
        return Created(reference=session["id"], url=session.get("url") or "", answer=_keep(session))

    def invoice_check(self, payment) -> Checked:
        session = _dict(_wrap(lambda: _client().v1.checkout.sessions.retrieve(payment.provider_reference)))
        if session.get("status") == "complete" and session.get("payment_status") == "paid":
            total = session.get("amount_total")
            paid = from_minor_units(total, payment.currency) if isinstance(total, int) else None
            return Checked(status=Payment.Status.SUCCESS, paid_amount=paid, answer=_keep(session))
        if session.get("status") == "expired":
            return Checked(status=Payment.Status.CANCELED, answer=_keep(session))
        return Checked(status=Payment.Status.PENDING, answer=_keep(session))

    def invoice_cancel(self, payment) -> dict:
        session = _wrap(
            lambda: _client().v1.checkout.sessions.expire(
                payment.provider_reference, {}, {"idempotency_key": f"{payment.idempotency_key}-expire"}
            )
        )
        return _keep(_dict(session))
