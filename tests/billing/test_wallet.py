from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing import wallet
from billing.models import WalletEntry
from tests.factories import DriverFactory, PurchaseFactory


@pytest.mark.django_db
def test_the_balance_is_the_sum_of_the_ledger():
    driver = DriverFactory()
    assert wallet.wallet_balance(user_id=driver.pk) == Decimal("0.00")
    wallet.wallet_top_up(user_id=driver.pk, amount=Decimal("10.00"), idempotency_key="t1")
    wallet.wallet_top_up(user_id=driver.pk, amount=Decimal("2.50"), idempotency_key="t2")
    assert wallet.wallet_balance(user_id=driver.pk) == Decimal("12.50")


@pytest.mark.django_db
def test_a_retried_top_up_is_written_once():
    driver = DriverFactory()
    first = wallet.wallet_top_up(user_id=driver.pk, amount=Decimal("10.00"), idempotency_key="same")
    again = wallet.wallet_top_up(user_id=driver.pk, amount=Decimal("10.00"), idempotency_key="same")
    assert first.pk == again.pk
    assert wallet.wallet_balance(user_id=driver.pk) == Decimal("10.00")


@pytest.mark.django_db
def test_a_debit_takes_the_purchase_total_and_returns_the_new_balance():
    purchase = PurchaseFactory(total_price=Decimal("3.50"))
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("5.00"), idempotency_key="t")
    assert wallet.wallet_debit_for_purchase(user_id=purchase.user_id, purchase_id=purchase.pk) == Decimal("1.50")
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("1.50")
    entry = WalletEntry.objects.get(kind=WalletEntry.Kind.DEBIT)
    assert entry.amount == Decimal("-3.50") and entry.purchase_id == purchase.pk


@pytest.mark.django_db
def test_it_refuses_a_debit_larger_than_the_balance():
    purchase = PurchaseFactory(total_price=Decimal("3.50"))
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("3.49"), idempotency_key="t")
    with pytest.raises(wallet.InsufficientBalance):
        wallet.wallet_debit_for_purchase(user_id=purchase.user_id, purchase_id=purchase.pk)
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("3.49")


@pytest.mark.django_db
def test_it_refuses_to_debit_the_same_purchase_twice():
    purchase = PurchaseFactory(total_price=Decimal("1.00"))
    wallet.wallet_top_up(user_id=purchase.user_id, amount=Decimal("5.00"), idempotency_key="t")
    wallet.wallet_debit_for_purchase(user_id=purchase.user_id, purchase_id=purchase.pk)
    with pytest.raises(wallet.WalletError) as error:
        wallet.wallet_debit_for_purchase(user_id=purchase.user_id, purchase_id=purchase.pk)
    assert error.value.code == "already_debited"
    assert wallet.wallet_balance(user_id=purchase.user_id) == Decimal("4.00")


@pytest.mark.django_db
def test_it_refuses_a_credit_that_is_not_a_positive_decimal():
    driver = DriverFactory()
    with pytest.raises(wallet.WalletError):
        wallet.wallet_top_up(user_id=driver.pk, amount=Decimal("0"), idempotency_key="zero")
    with pytest.raises(wallet.WalletError):
        wallet.wallet_top_up(user_id=driver.pk, amount=10.0, idempotency_key="float")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw_the_wallet(on_postgres):
    driver = DriverFactory()
    purchases = [PurchaseFactory(user=driver, session__user=driver, total_price=Decimal("4.00")) for _ in range(8)]
    wallet.wallet_top_up(user_id=driver.pk, amount=Decimal("10.00"), idempotency_key="t")
    barrier = threading.Barrier(len(purchases))
    outcomes: list[str] = []

    def debit(purchase_id: int) -> None:
        try:
            barrier.wait()
            wallet.wallet_debit_for_purchase(user_id=driver.pk, purchase_id=purchase_id)
            outcomes.append("ok")
        except wallet.InsufficientBalance:
            outcomes.append("insufficient")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit, args=(p.pk,)) for p in purchases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["insufficient"] * 6 + ["ok"] * 2
    assert wallet.wallet_balance(user_id=driver.pk) == Decimal("2.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_use_creates_one_wallet(on_postgres):
    driver = DriverFactory()
    barrier = threading.Barrier(6)
    ids: list[int] = []

    def create() -> None:
        try:
            barrier.wait()
            ids.append(wallet.wallet_get_or_create(user_id=driver.pk).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1 and len(ids) == 6
