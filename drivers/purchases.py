"""A driver's purchases and wallet as the app uses them.

Every function takes the driver and checks ownership before anything else: another
driver's purchase is "not found", never "forbidden", so ids cannot be probed. Paying and
topping up are the payments area's work (payments.services); this module only guards and
forwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from accounts.errors import NotFound, parse_id
from accounts.models import User
from billing.models import Purchase
from payments import services as payment_services
from payments.selectors import payment_options


def _payments():
    return payment_services


def _driver_purchases(user: User) -> QuerySet[Purchase]:
    return Purchase.objects.filter(user=user)


def driver_purchase_get(*, user: User, purchase_id: str) -> Purchase:
    pk = parse_id(purchase_id)
    purchase = (
        None if pk is None else (_driver_purchases(user).select_related("session__charge_point").filter(pk=pk).first())
    )
    if purchase is None:
        raise NotFound("No purchase with this id.")
    return purchase


@dataclass(frozen=True)
class Page:
    items: list[Purchase]
    total: int


def driver_purchase_list(*, user: User, page: int, page_size: int) -> Page:
    purchases = _driver_purchases(user).select_related("session__charge_point").order_by("-created_at", "-pk")
    start = (page - 1) * page_size
    return Page(items=list(purchases[start : start + page_size]), total=purchases.count())


def driver_purchase_feedback(*, user: User, purchase_id: str, score: int, description: str) -> Purchase:
    purchase = driver_purchase_get(user=user, purchase_id=purchase_id)
    purchase.feedback_score = score
    purchase.feedback_text = description
    purchase.save(update_fields=["feedback_score", "feedback_text", "updated_at"])
    return purchase


def driver_purchase_pay(*, user: User, purchase_id: str, option: str) -> payment_services.Invoice:
    purchase = driver_purchase_get(user=user, purchase_id=purchase_id)
    return _payments().purchase_pay(purchase_id=purchase.pk, user_id=user.pk, option=option)


def driver_purchase_payment_status(*, user: User, purchase_id: str, invoice_id: str) -> payment_services.PaymentState:
    purchase = driver_purchase_get(user=user, purchase_id=purchase_id)
    return _payments().payment_status(user_id=user.pk, invoice_id=invoice_id, purchase_id=purchase.pk)


def driver_payment_options(*, user: User) -> list[dict]:
    return payment_options(user=user)


def driver_wallet_replenish(*, user: User, amount: Decimal, option: str) -> payment_services.Invoice:
    return _payments().wallet_replenish(user_id=user.pk, amount=amount, option=option)


def driver_replenishment_status(*, user: User, invoice_id: str) -> payment_services.PaymentState:
    return _payments().replenishment_status(user_id=user.pk, invoice_id=invoice_id)
