"""Reads of the billing app: purchases and the running cost of an active session."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class RunningFigures:
    """A session's figures so far, all from one pricing: what the live CHARGING event shows."""

    total: Decimal  # VAT included, in the tariff's currency
    energy_wh: int
    idle_minutes: int


def _running_cost_key(session: ChargeSession, minute: int) -> str:
    # The session row changes (updated_at) whenever the OCPP side stores a meter value or
    # a state; idle fees accrue by the minute. Either changes the key, so a cached figure
    # is never older than the latest reading or a minute of idling.
    changed = session.updated_at.timestamp() if session.updated_at else 0
    return f"billing:running-figures:{session.pk}:{changed}:{session.meter_last_wh}:{session.charging_state}:{minute}"


def session_running_figures(*, session: ChargeSession) -> RunningFigures:
    """What the session costs so far, its energy and its idle minutes, from one pricing:
    for live CHARGING events, OCPP 2.0.1 running cost and totalCost, Blue Current.

    Finished sessions with a purchase answer the purchase's figures. Active ones are
    priced with the full pricing function (so the live figures and the invoice never
    disagree) and cached in Redis per (session, last change, minute): calls every few
    seconds between two meter values cost one cache read.
    """
    if not session.is_active:
        purchase = purchase_get_for_session(session_id=session.pk)
        if purchase is not None and purchase.priced_at is not None:
            return RunningFigures(purchase.total_price, purchase.energy_wh, purchase.idle_minutes)
    now = timezone.now()
    key = _running_cost_key(session, int(now.timestamp() // 60))
    cached = cache.get(key)
    if cached is not None:
        return RunningFigures(Decimal(cached["total"]), cached["energy_wh"], cached["idle_minutes"])
    priced = price_session(session=session, until=now)
    figures = RunningFigures(priced.total, priced.energy_wh, priced.idle_minutes)
    cache.set(
        key,
        {"total": str(figures.total), "energy_wh": figures.energy_wh, "idle_minutes": figures.idle_minutes},
        timeout=settings.BILLING_RUNNING_COST_CACHE_SECONDS,
    )
    return figures


def session_running_cost(*, session: ChargeSession) -> Decimal:
    """What the session costs so far, VAT included (see session_running_figures)."""
    return session_running_figures(session=session).total
