"""Small formatting filters for the operator portal templates."""

from __future__ import annotations

import json
import zoneinfo
from datetime import datetime
from decimal import Decimal

from django import template
from django.templatetags.tz import do_timezone

register = template.Library()


@register.filter
def kwh(wh) -> str:
    """Integer Wh as kWh with two decimals."""
    if wh is None or wh == "":
        return "–"
    return f"{Decimal(wh) / 1000:.2f}"


@register.filter
def kw(watts) -> str:
    if watts is None or watts == "":
        return "–"
    return f"{Decimal(watts) / 1000:.1f}"


@register.filter
def reading(value: Decimal | None) -> str:
    """A meter reading without the storage's trailing zeros, never in exponent notation
    (7400.000000 -> 7400, 0.250000 -> 0.25)."""
    if value is None:
        return "–"
    return format(Decimal(value).normalize(), "f")


@register.filter
def in_zone(moment: datetime | None, zone: str) -> datetime | None:
    """An aware datetime in a site's IANA zone (local time only at the edges)."""
    if moment is None:
        return None
    try:
        zoneinfo.ZoneInfo(zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return moment
    # Django's tz filter marks the result so the date filter does not convert it back to
    # the active time zone.
    return do_timezone(moment, zone or "UTC")


@register.filter
def pretty_json(value) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)


@register.filter
def status_class(status: str | None) -> str:
    """CSS modifier of a status badge: one of ok, busy, warn, bad, off."""
    value = (status or "").lower()
    if value in {"available", "online", "accepted", "paid", "success", "completed", "operative", "top_up"}:
        return "ok"
    if value in {
        "charging",
        "preparing",
        "finishing",
        "suspendedev",
        "suspendedevse",
        "occupied",
        "active",
        "pending",
        "open",
    }:
        return "busy"
    if value in {"reserved", "unavailable", "canceled", "void", "inoperative"}:
        return "warn"
    if value in {"faulted", "error", "rejected", "failed", "declined"}:
        return "bad"
    return "off"


@register.filter
def admin_url(obj) -> str:
    """The admin change page of an object, or "" while its admin is not registered."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""
