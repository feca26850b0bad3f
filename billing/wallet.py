"""The wallet ledger: a balance is the sum of its entries, never a stored number.

Every entry carries a unique idempotency key, so a retried top-up or debit is written once.
Debits lock the wallet row first (SELECT ... FOR UPDATE), so two debits racing on the same
wallet are serialised and never overdraw it. (SQLite has no row locks, but our SQLite
connections begin IMMEDIATE transactions, which serialise writers the same way.)
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from billing.models import Purchase, Wallet, WalletEntry

ZERO = Decimal("0.00")


class WalletError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class InsufficientBalance(WalletError):
    def __init__(self, *, balance: Decimal, needed: Decimal):
        super().__init__("insufficient_balance", f"The wallet holds {balance}, {needed} is needed.")
        self.balance = balance
        self.needed = needed


def _default_currency() -> str:
    from django.conf import settings

    return settings.PRICE_CURRENCY


def wallet_get_or_create(*, user_id: int, currency: str | None = None) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(user_id=user_id, defaults={"currency": currency or _default_currency()})
    return wallet


def _sum_entries(wallet_id: int) -> Decimal:
    total = WalletEntry.objects.filter(wallet_id=wallet_id).aggregate(total=Sum("amount"))["total"]
    return (total or ZERO).quantize(Decimal("0.01"))


def wallet_balance(*, user_id: int) -> Decimal:
    wallet = Wallet.objects.filter(user_id=user_id).only("id").first()
    return ZERO if wallet is None else _sum_entries(wallet.pk)


def _existing_entry(idempotency_key: str) -> WalletEntry | None:
    return WalletEntry.objects.filter(idempotency_key=idempotency_key).first()


@transaction.atomic
def wallet_credit(
    *,
    user_id: int,
    amount: Decimal,
    idempotency_key: str,
    kind: str = WalletEntry.Kind.TOP_UP,
    payment_id: int | None = None,
    purchase_id: int | None = None,
    note: str = "",
) -> WalletEntry:
    """Add money (a top-up or a refund). The same idempotency key writes once."""
    if not isinstance(amount, Decimal) or amount <= 0:
        raise WalletError("invalid_amount", "A credit must be a positive Decimal.")
    existing = _existing_entry(idempotency_key)
    if existing is not None:
        return existing
    wallet = wallet_get_or_create(user_id=user_id)
    try:
        with transaction.atomic():
            return WalletEntry.objects.create(
                wallet=wallet,
                kind=kind,
                amount=amount,
                payment_id=payment_id,
                purchase_id=purchase_id,
                idempotency_key=idempotency_key,
                note=note[:200],
            )
    except IntegrityError:
        # A concurrent call with the same key won; its entry is the answer.
        existing = _existing_entry(idempotency_key)
        if existing is None:
            raise
        return existing


def wallet_top_up(
    *,
    user_id: int,
    amount: Decimal,
    idempotency_key: str,
    payment_id: int | None = None,
    note: str = "",
) -> WalletEntry:
    return wallet_credit(
        user_id=user_id,
        amount=amount,
        idempotency_key=idempotency_key,
        kind=WalletEntry.Kind.TOP_UP,
        payment_id=payment_id,
        note=note or "Top-up",
    )


@transaction.atomic
def wallet_debit_for_purchase(*, user_id: int, purchase_id: int, payment_id: int | None = None) -> Decimal:
    """Take the purchase's total from the wallet and return the new balance.

    Raises InsufficientBalance (nothing written) when the balance does not cover it, and
    WalletError("already_debited") when this purchase was already paid from the wallet.
    """
    purchase = Purchase.objects.get(pk=purchase_id)
    amount = purchase.total_price
    if amount <= 0:
        raise WalletError("invalid_amount", "Nothing to debit for a purchase of zero.")
    wallet = wallet_get_or_create(user_id=user_id, currency=purchase.currency)
    if wallet.currency != purchase.currency:
        raise WalletError(
            "currency_mismatch", f"The wallet is in {wallet.currency}, the purchase in {purchase.currency}."
        )
    # The lock: concurrent debits of this wallet wait here until we commit.
    Wallet.objects.select_for_update().filter(pk=wallet.pk).get()
    if WalletEntry.objects.filter(purchase_id=purchase_id, kind=WalletEntry.Kind.DEBIT).exists():
        raise WalletError("already_debited", "This purchase was already paid from the wallet.")
    balance = _sum_entries(wallet.pk)
    if balance < amount:
        raise InsufficientBalance(balance=balance, needed=amount)
    WalletEntry.objects.create(
        wallet=wallet,
        kind=WalletEntry.Kind.DEBIT,
        amount=-amount,
        purchase_id=purchase_id,
        payment_id=payment_id,
        idempotency_key=f"debit-purchase-{purchase_id}",
        note=f"Purchase {purchase_id}",
    )
    return balance - amount
