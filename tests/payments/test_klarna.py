"""Klarna Payments against a local HTTP server standing in for Klarna's API."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from accounts.errors import DomainError
from billing.models import Purchase
from payments import services
from payments.errors import ProviderError
from payments.models import Payment
from tests.factories import PurchaseFactory

pytestmark = pytest.mark.django_db


def test_klarna_session_order_and_capture_pay_the_purchase(klarna, client, emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("12.34"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="KLARNA")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    assert payment.provider_reference == "klarna-session-1" and answer.client_token == "client-token-1"
    assert klarna.last_session_body["order_amount"] == 1234
    assert klarna.calls("POST", "/payments/v1/sessions")[0].headers["Klarna-Idempotency-Key"] == payment.idempotency_key

    page = client.get(re.sub(r"^https?://[^/]+", "", answer.url))
    assert page.status_code == 200 and b"client-token-1" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        result = services.klarna_authorize(invoice_id=answer.invoice_id, authorization_token="good-authorization-token")
    assert result == services.PaymentState(status="success", amount=Decimal("12.34"))
    capture = klarna.calls("POST", "/ordermanagement/v1/orders/")[0]
    assert capture.json["captured_amount"] == 1234
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.payment_method == "KLARNA"
    assert "good-authorization-token" not in str(Payment.objects.get(pk=payment.pk).provider_answers)
    assert emitted == [(purchase.user_id, "PAYMENT", {"status": "success", "amount": Decimal("12.34")})]
    # Polling the finished order changes nothing.
    assert services.payment_refresh(payment_id=payment.pk) == "success"


def test_a_refused_authorization_token_marks_the_payment_failed_and_reopens_the_purchase(klarna):
    purchase = PurchaseFactory(total_price=Decimal("5.00"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="KLARNA")
    with pytest.raises(DomainError):
        services.klarna_authorize(invoice_id=answer.invoice_id, authorization_token="forged")
    assert Payment.objects.get(public_id=answer.invoice_id).status == Payment.Status.ERROR
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN


def test_a_failed_capture_is_retried_by_the_poller_and_captures_once(
    klarna, emitted, django_capture_on_commit_callbacks
):
    purchase = PurchaseFactory(total_price=Decimal("7.50"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="KLARNA")
    klarna.failing_captures = 1  # Klarna is down for the capture right after the authorisation
    result = services.klarna_authorize(invoice_id=answer.invoice_id, authorization_token="good-authorization-token")
    assert result.status == "pending"
    payment = Payment.objects.get(public_id=answer.invoice_id)
    assert any(a.get("call") == "order_capture" and "error" in a for a in payment.provider_answers)
    # Still down at the next poll: the poll fails (the beat task counts it and goes on),
    # the payment stays pending, nothing lost.
    klarna.failing_captures = 1
    with pytest.raises(ProviderError):
        services.payment_refresh(payment_id=payment.pk)
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    # Back: the poll captures, the purchase is paid.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.payment_refresh(payment_id=payment.pk) == "success"
    order = next(iter(klarna.orders.values()))
    assert order["captured_amount"] == 750 and order["status"] == "CAPTURED"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    # Every capture attempt carried the same key, so a lost answer cannot capture twice.
    keys = {
        r.headers["Klarna-Idempotency-Key"]
        for r in klarna.calls("POST", "/ordermanagement/v1/orders/")
        if r.path.endswith("/captures")
    }
    assert keys == {f"{payment.idempotency_key}-capture"}
    assert services.payment_refresh(payment_id=payment.pk) == "success"
    assert order["captured_amount"] == 750
