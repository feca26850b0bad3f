"""QPay invoices against a local HTTP server standing in for QPay's merchant API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.errors import DomainError, UpstreamFailed
from billing import wallet
from billing.models import Purchase
from payments import services, tasks
from payments.models import Payment, WebhookEvent
from tests.factories import DriverFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


def _callback_path(payment: Payment) -> str:
    return f"/API/Payments/Webhook/qpay/{payment.public_id}"


def test_it_creates_an_invoice_in_whole_units_with_an_idempotency_key(qpay):
    purchase = PurchaseFactory(total_price=Decimal("4500.00"), currency="MNT")
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    assert payment.provider == "qpay" and payment.provider_reference == "qpay-inv-1"
    assert answer == services.Invoice(
        option="QPAY", invoice_id=str(payment.public_id), url="https://s.qpay.test/qpay-inv-1"
    )
    create = qpay.calls("POST", "/v2/invoice")[0]
    assert create.json["amount"] == 4500 and isinstance(create.json["amount"], int)
    assert create.headers["Idempotency-Key"] == payment.idempotency_key
    assert create.json["callback_url"].endswith(_callback_path(payment))
    assert create.headers["Authorization"] == "Bearer qpay-access-token"


def test_secrets_never_reach_the_stored_answers(qpay):
    purchase = PurchaseFactory(total_price=Decimal("100"), currency="MNT")
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    stored = str(payment.provider_answers)
    assert "qpay-access-token" not in stored and "merchant-secret" not in stored


def test_a_callback_is_checked_with_qpay_and_applied_once(qpay, client, emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("4500"), currency="MNT")
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    payment = Payment.objects.get(public_id=answer.invoice_id)

    # A callback before the money arrived changes nothing.
    assert client.get(_callback_path(payment), {"qpay_payment_id": "early"}).json()["result"] == "pending"
    qpay.pay(payment.provider_reference)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(_callback_path(payment), {"qpay_payment_id": "p-1"})
        replay = client.get(_callback_path(payment), {"qpay_payment_id": "p-1"})
    assert response.status_code == 200 and response.json()["result"] == "success"
    assert replay.json()["result"] == "duplicate"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.payment_method == "QPAY"
    assert emitted == [(purchase.user_id, "PAYMENT", {"status": "success", "amount": Decimal("4500.00")})]
    assert WebhookEvent.objects.filter(provider="qpay").count() == 2


def test_polling_finds_a_paid_qpay_invoice(qpay, emitted, django_capture_on_commit_callbacks):
    driver = DriverFactory()
    answer = services.wallet_replenish(user_id=driver.pk, amount=Decimal("10000"), option="QPAY")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.poll_pending_payments()["final"] == 0
        qpay.pay(payment.provider_reference)
        assert tasks.poll_pending_payments()["final"] == 1
        tasks.poll_pending_payments()
    assert wallet.wallet_balance(user_id=driver.pk) == Decimal("10000.00")
    assert emitted == [(driver.pk, "REPLENISHMENT", {"status": "success", "amount": Decimal("10000.00")})]


def test_a_partial_payment_is_not_a_success(qpay):
    purchase = PurchaseFactory(total_price=Decimal("4500"), currency="MNT")
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    qpay.pay(payment.provider_reference, amount=4000)
    assert services.payment_status(user_id=purchase.user_id, invoice_id=answer.invoice_id).status == "pending"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PENDING


def test_qpay_down_leaves_the_purchase_payable_with_a_clear_status(qpay, emitted, django_capture_on_commit_callbacks):
    qpay.down = True
    purchase = PurchaseFactory(total_price=Decimal("4500"), currency="MNT")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError) as error:
        services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    assert error.value.code == "provider_error" and isinstance(error.value, UpstreamFailed)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN and purchase.paid_at is None
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.ERROR and "Provider unavailable" in payment.failure_reason
    qpay.down = False
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    assert answer.url


def test_an_unreachable_qpay_is_a_provider_error(settings, qpay):
    settings.QPAY_BASE_URL = "http://127.0.0.1:9"
    purchase = PurchaseFactory(total_price=Decimal("4500"), currency="MNT")
    with pytest.raises(DomainError) as error:
        services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    assert error.value.code == "provider_error"


def test_a_fractional_amount_is_refused_rather_than_rounded(qpay):
    purchase = PurchaseFactory(total_price=Decimal("4500.50"), currency="MNT")
    with pytest.raises(DomainError):
        services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    assert not qpay.calls("POST", "/v2/invoice")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN


def test_an_unknown_invoice_callback_is_404(qpay, client):
    response = client.get("/API/Payments/Webhook/qpay/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
