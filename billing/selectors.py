"""Reads of the billing app: purchases and the running cost of an active session."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from billing.models import Purchase
from billing.pricing import price_session
from sessions_app.models import ChargeSession


def purchase_get(*, purchase_id: int, user: User | None = None) -> Purchase:
    """One purchase (the seed's getTransaction). With `user`, only that user's purchase:
    someone else's raises Purchase.DoesNotExist, like a missing one."""
    purchases = Purchase.objects.select_related("session", "tariff", "user")
    if user is not None:
        purchases = purchases.filter(user=user)
    return purchases.get(pk=purchase_id)


def purchase_list_for_user(*, user: User) -> QuerySet[Purchase]:
    """A driver's purchases, newest first (the seed's getTransactionsForUser)."""
    return (
        Purchase.objects.filter(user=user)
        .select_related("session", "session__charge_point")
        .order_by("-created_at", "-id")
    )


def purchase_get_for_session(*, session_id: int) -> Purchase | None:
    """The purchase of a charge session, if it has one (getTransactionForChargeSession)."""
    return Purchase.objects.filter(session_id=session_id).first()


def purchase_lines(*, purchase: Purchase):
    return purchase.lines.order_by("position", "id")


def _running_cost_key(session: ChargeSession, minute: int) -> str:
    # The session row changes (updated_at) whenever the OCPP side stores a meter value or
    # a state; idle fees accrue by the minute. Either changes the key, so a cached figure
    # is never older than the latest reading or a minute of idling.
    changed = session.updated_at.timestamp() if session.updated_at else 0
    return f"billing:running-cost:{session.pk}:{changed}:{session.meter_last_wh}:{session.charging_state}:{minute}"


def session_running_cost(*, session: ChargeSession) -> Decimal:
    """What the session costs so far, VAT included, in the tariff's currency: for live
    CHARGING events and OCPP 2.0.1 totalCost.

    Finished sessions with a purchase answer the purchase total. Active ones are priced
    with the full pricing function (so the live figure and the invoice never disagree) and
    cached in Redis per (session, last change, minute): calls every few seconds between
    two meter values cost one cache read.
    """
    if not session.is_active:
        purchase = purchase_get_for_session(session_id=session.pk)
        if purchase is not None and purchase.priced_at is not None:
            return purchase.total_price
    now = timezone.now()
    key = _running_cost_key(session, int(now.timestamp() // 60))
    cached = cache.get(key)
    if cached is not None:
        return Decimal(cached)
    total = price_session(session=session, until=now).total
    cache.set(key, str(total), timeout=settings.BILLING_RUNNING_COST_CACHE_SECONDS)
    return total
