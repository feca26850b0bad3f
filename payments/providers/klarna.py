"""Klarna Payments: a payment session (session_id + client_token for the widget), an order
from the authorization_token the widget returns, then a capture that makes it paid.

The authorization_token lives only in the browser and in the one request that turns it
into an order; it is never stored or logged.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from payments.errors import ProviderError
from payments.models import Payment
from payments.money import from_minor_units, to_minor_units

from . import http
from .base import Checked, Created, Provider, public_url, scrub


def widget_page_url(payment) -> str:
    return public_url(reverse("payments:klarna-pay", args=[payment.public_id]))


def order_id_of(payment) -> str:
    for answer in payment.provider_answers or []:
        if answer.get("call") == "order_create" and answer.get("order_id"):
            return answer["order_id"]
    return ""


class KlarnaProvider(Provider):
    name = "klarna"

    def is_configured(self) -> bool:
        return bool(settings.KLARNA_USERNAME and settings.KLARNA_PASSWORD)

    def _call(self, method: str, path: str, *, body: dict | None = None, idempotency_key: str = "") -> dict:
        headers = {"Klarna-Idempotency-Key": idempotency_key} if idempotency_key else {}
        return http.call(
            method,
            settings.KLARNA_BASE_URL.rstrip("/") + path,
            body=body,
            headers=headers,
            auth=(settings.KLARNA_USERNAME, settings.KLARNA_PASSWORD),
        )

    def _order_body(self, payment, *, description: str) -> dict:
        cents = to_minor_units(payment.amount, payment.currency)
        return {
            "purchase_country": settings.KLARNA_PURCHASE_COUNTRY,
            "purchase_currency": payment.currency,
            "locale": settings.KLARNA_LOCALE,
            "order_amount": cents,
            "order_tax_amount": 0,
            "order_lines": [
                {
                    "type": "digital",
                    "name": description[:255],
                    "quantity": 1,
                    "unit_price": cents,
                    "tax_rate": 0,
                    "total_amount": cents,
                    "total_tax_amount": 0,
                }
            ],
            "merchant_reference1": str(payment.public_id),
            "merchant_urls": {
                "notification": public_url(reverse("payments-api:webhook-klarna", args=[payment.public_id]))
            },
        }

    def invoice_create(self, payment, *, description: str) -> Created:
        answer = self._call(
            "POST",
            "/payments/v1/sessions",
            body=self._order_body(payment, description=description),
            idempotency_key=payment.idempotency_key,
        )
        session_id, client_token = answer.get("session_id"), answer.get("client_token")
        if not session_id or not client_token:
            raise ProviderError("Klarna answered without session_id / client_token", answer=scrub(answer))
        return Created(
            reference=session_id,
            url=widget_page_url(payment),
            client_token=client_token,
            answer={"call": "session_create", "session_id": session_id},
        )

    def order_create(self, payment, *, authorization_token: str, description: str) -> dict:
        answer = self._call(
            "POST",
            f"/payments/v1/authorizations/{authorization_token}/order",
            body=self._order_body(payment, description=description),
            idempotency_key=f"{payment.idempotency_key}-order",
        )
        if not answer.get("order_id"):
            raise ProviderError("Klarna answered without an order_id", answer=scrub(answer), retryable=False)
        return {"call": "order_create", "order_id": answer["order_id"], "fraud_status": answer.get("fraud_status")}

    def order_capture(self, payment, *, order_id: str) -> dict:
        body = {"captured_amount": to_minor_units(payment.amount, payment.currency), "description": "Charging"}
        self._call(
            "POST",
            f"/ordermanagement/v1/orders/{order_id}/captures",
            body=body,
            idempotency_key=f"{payment.idempotency_key}-capture",
        )
        return {"call": "order_capture", "order_id": order_id}

    def invoice_check(self, payment) -> Checked:
        order_id = order_id_of(payment)
        if not order_id:
            return Checked(status=Payment.Status.PENDING, answer={"call": "check", "order": None})
        order = self._call("GET", f"/ordermanagement/v1/orders/{order_id}")
        kept = {
            "call": "check",
            **{k: order.get(k) for k in ("order_id", "status", "fraud_status", "order_amount", "captured_amount")},
        }
        captured = order.get("captured_amount")
        captured = from_minor_units(captured, payment.currency) if isinstance(captured, int) else None
        if order.get("status") == "CANCELLED":
            return Checked(status=Payment.Status.CANCELED, answer=kept)
        if order.get("fraud_status") == "REJECTED":
            return Checked(status=Payment.Status.ERROR, answer=kept)
        if captured is not None and captured >= payment.amount:
            return Checked(status=Payment.Status.SUCCESS, paid_amount=captured, answer=kept)
        if order.get("status") == "AUTHORIZED" and order.get("fraud_status") == "ACCEPTED" and not captured:
            # Authorised, never captured: the capture right after the authorisation failed
            # (Klarna or the network down). Retry it on every poll, under the same idempotency
            # key, so Klarna captures once however often it is repeated; a ProviderError
            # leaves the payment pending for the next poll.
            kept["capture"] = self.order_capture(payment, order_id=order_id)
            return Checked(status=Payment.Status.SUCCESS, paid_amount=payment.amount, answer=kept)
        return Checked(status=Payment.Status.PENDING, paid_amount=captured, answer=kept)

    def invoice_cancel(self, payment) -> dict:
        order_id = order_id_of(payment)
        if order_id:
            self._call(
                "POST",
                f"/ordermanagement/v1/orders/{order_id}/cancel",
                idempotency_key=f"{payment.idempotency_key}-cancel",
            )
        # A session without an order simply expires at Klarna.
        return {"call": "cancel", "order_id": order_id or None}
