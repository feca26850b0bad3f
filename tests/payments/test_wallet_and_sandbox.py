"""Paying purchases from the wallet (EVM) and through the sandbox pay page, end to end."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from accounts.errors import DomainError
from billing import wallet
from billing.models import Purchase, WalletEntry
from payments import services, tasks
from payments.models import Payment, SandboxInvoice
from payments.selectors import payment_options
from tests.factories import DriverFactory, PurchaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_real_providers")]


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_payment_options_list_every_option_with_its_state():
    options = {o["option"]: o for o in payment_options()}
    assert set(options) == {"EVM", "QPAY", "KLARNA", "STRIPE", "SANDBOX"}
    assert set(options["EVM"]) == {"option", "icon", "title", "disabled"}
    assert options["EVM"]["disabled"] is False
    assert options["QPAY"]["disabled"] is False  # served by the sandbox offline
    assert options["STRIPE"]["disabled"] is True and options["KLARNA"]["disabled"] is True


def test_qpay_is_disabled_without_keys_when_the_sandbox_fallback_is_off(settings):
    settings.QPAY_FALLBACK_TO_SANDBOX = False
    options = {o["option"]: o for o in payment_options()}
    assert options["QPAY"]["disabled"] is True


def test_evm_pays_from_the_wallet_and_emits_payment(emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("3.50"))
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("10.00"), idempotency_key="t")
    with django_capture_on_commit_callbacks(execute=True):
        answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="EVM")
    assert answer == services.Invoice(option="EVM", invoice_id=str(purchase.pk), new_balance=Decimal("6.50"))
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.paid_at and purchase.payment_method == "EVM"
    assert emitted == [(purchase.user_id, "PAYMENT", {"status": "success", "amount": Decimal("3.50")})]
    status = services.payment_status(user_id=purchase.user_id, invoice_id=str(purchase.pk))
    assert status == services.PaymentState(status="success", amount=Decimal("3.50"))


def test_evm_with_too_little_balance_changes_nothing(emitted):
    purchase = PurchaseFactory(total_price=Decimal("3.50"))
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("1.00"), idempotency_key="t")
    with pytest.raises(DomainError) as error:
        services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="EVM")
    assert error.value.code == "insufficient_balance"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN
    assert not Payment.objects.exists()
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("1.00")
    assert emitted == []


def test_it_refuses_to_pay_a_paid_purchase_twice():
    purchase = PurchaseFactory(total_price=Decimal("3.50"))
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("10.00"), idempotency_key="t")
    services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="EVM")
    for option in ("EVM", "QPAY"):
        with pytest.raises(DomainError) as error:
            services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option=option)
        assert error.value.code == "already_paid"
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("6.50")


def test_it_refuses_a_disabled_option_and_someone_elses_purchase():
    purchase = PurchaseFactory()
    with pytest.raises(DomainError) as error:
        services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="STRIPE")
    assert error.value.code == "option_disabled"
    other = PurchaseFactory()
    with pytest.raises(DomainError) as error:
        services.purchase_pay(purchase_id=other.pk, user_id=purchase.user_id, option="EVM")
    assert error.value.code == "not_found"


def test_sandbox_invoice_paid_on_the_hosted_page(client, emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("7.25"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="QPAY")
    assert answer.option == "QPAY" and answer.url
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PENDING
    assert services.payment_status(user_id=purchase.user_id, invoice_id=answer.invoice_id).status == "pending"

    page = client.get(_path(answer.url))
    assert page.status_code == 200 and b"7.25" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_path(answer.url), {"outcome": "pay"})

    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.payment_method == "SANDBOX"
    status = services.payment_status(user_id=purchase.user_id, invoice_id=answer.invoice_id)
    assert status == services.PaymentState(status="success", amount=Decimal("7.25"))
    assert emitted == [(purchase.user_id, "PAYMENT", {"status": "success", "amount": Decimal("7.25")})]


def test_a_declined_sandbox_payment_leaves_the_purchase_payable_again(
    client, emitted, django_capture_on_commit_callbacks
):
    purchase = PurchaseFactory(total_price=Decimal("7.25"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_path(answer.url), {"outcome": "decline"})
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN and purchase.paid_at is None
    assert services.payment_status(user_id=purchase.user_id, invoice_id=answer.invoice_id).status == "error"
    assert emitted[-1][1:] == ("PAYMENT", {"status": "fail", "amount": Decimal("7.25")})
    again = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    assert again.invoice_id != answer.invoice_id


def test_asking_twice_for_the_same_option_reuses_the_open_invoice():
    purchase = PurchaseFactory(total_price=Decimal("2.00"))
    first = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    second = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    assert first == second
    assert Payment.objects.count() == 1 and SandboxInvoice.objects.count() == 1


def test_a_replayed_sandbox_notification_changes_nothing(emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("2.00"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    SandboxInvoice.objects.filter(reference=payment.provider_reference).update(status="paid")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sandbox_notification_handle(reference=payment.provider_reference, event_id="e1") == "success"
        assert services.sandbox_notification_handle(reference=payment.provider_reference, event_id="e1") == "duplicate"
        assert services.sandbox_notification_handle(reference=payment.provider_reference, event_id="e2") == "success"
    assert len(emitted) == 1


def test_polling_finds_a_paid_invoice_without_any_webhook(emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("2.00"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    SandboxInvoice.objects.filter(reference=payment.provider_reference).update(status="paid")  # no notification sent
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.poll_pending_payments()
    assert result["final"] == 1
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    assert len(emitted) == 1


def test_a_second_invoice_paid_after_the_first_is_credited_to_the_wallet():
    purchase = PurchaseFactory(total_price=Decimal("2.00"))
    first = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("5.00"), idempotency_key="t")
    services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="EVM")
    payment = Payment.objects.get(public_id=first.invoice_id)
    SandboxInvoice.objects.filter(reference=payment.provider_reference).update(status="paid")
    services.payment_refresh(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.ERROR and "credited" in payment.failure_reason
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("5.00")  # 5 - 2 (EVM) + 2 (credit)
    assert WalletEntry.objects.filter(kind=WalletEntry.Kind.REFUND, payment=payment).count() == 1
    services.payment_refresh(payment_id=payment.pk)
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("5.00")


def test_a_stale_unpaid_invoice_is_canceled_and_the_purchase_reopened(settings):
    settings.PAYMENTS_INVOICE_TTL_MINUTES = 0
    purchase = PurchaseFactory(total_price=Decimal("2.00"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    tasks.poll_pending_payments()
    payment = Payment.objects.get(public_id=answer.invoice_id)
    assert payment.status == Payment.Status.CANCELED
    assert SandboxInvoice.objects.get(reference=payment.provider_reference).status == "canceled"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN


def test_a_late_success_overrides_a_cancellation_so_no_money_is_lost(settings):
    purchase = PurchaseFactory(total_price=Decimal("2.00"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="SANDBOX")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    services.payment_apply_result(payment_id=payment.pk, status=Payment.Status.CANCELED)
    assert services.payment_apply_result(payment_id=payment.pk, status=Payment.Status.SUCCESS) is True
    assert services.payment_apply_result(payment_id=payment.pk, status=Payment.Status.ERROR) is False
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_wallet_top_up_through_the_sandbox_emits_replenishment(client, emitted, django_capture_on_commit_callbacks):
    driver = DriverFactory()
    answer = services.wallet_replenish(user_id=driver.pk, amount=Decimal("20.00"), option="QPAY")
    assert answer.option == "QPAY" and answer.url and answer.client_token is None and answer.new_balance is None
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_path(answer.url), {"outcome": "pay"})
    assert wallet.wallet_balance(user_id=driver.pk) == Decimal("20.00")
    status = services.replenishment_status(user_id=driver.pk, invoice_id=answer.invoice_id)
    assert status == services.PaymentState(status="success", amount=Decimal("20.00"))
    assert emitted == [(driver.pk, "REPLENISHMENT", {"status": "success", "amount": Decimal("20.00")})]
    with pytest.raises(DomainError):
        services.replenishment_status(user_id=DriverFactory().pk, invoice_id=answer.invoice_id)


def test_top_up_refuses_bad_amounts_and_the_wallet_itself():
    driver = DriverFactory()
    for amount in (Decimal("0"), Decimal("-1"), Decimal("1.001")):
        with pytest.raises(DomainError):
            services.wallet_replenish(user_id=driver.pk, amount=amount, option="QPAY")
    with pytest.raises(DomainError):
        services.wallet_replenish(user_id=driver.pk, amount=Decimal("5"), option="EVM")


def test_every_payment_option_icon_is_a_shipped_static_file(db):
    from django.conf import settings
    from django.contrib.staticfiles import finders

    from payments.selectors import payment_options

    for option in payment_options():
        relative = option["icon"].removeprefix(settings.STATIC_URL.rstrip("/") + "/")
        assert finders.find(relative), option["icon"]
