"""Periodic work of the tariffs app."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tariffs.services import electricity_prices_generate


@shared_task(name="tariffs.tasks.ensure_upcoming_prices")
def ensure_upcoming_prices() -> int:
    """Keep this month's and next month's hourly prices in place for the generated markets.
    Twice is once: existing (e.g. imported) hours are kept and an hour has one price per
    market (a unique constraint). Returns the hours created."""
    today = timezone.now().date()
    this_month = date(today.year, today.month, 1)
    next_month = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    created = 0
    for market in settings.TARIFFS_GENERATED_MARKETS:
        for month in (this_month, next_month):
            created += electricity_prices_generate(month_start=month, market=market)
    return created
