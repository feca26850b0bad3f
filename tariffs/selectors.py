"""Reads of the tariffs app: which tariff applies, hourly prices, the price a driver sees."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from chargepoints.models import ChargePoint
from tariffs.models import DEFAULT_MARKET, ElectricityPrice, Tariff, TariffAssignment

HUNDRED = Decimal(100)
DISPLAY_PLACES = Decimal("0.0001")


class PriceUnavailable(Exception):
    """An hour has no electricity price and generating one is switched off."""


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _now(at: datetime | None) -> datetime:
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        raise ValueError("Times must be aware (UTC inside the system).")
    return moment


def tariff_for_charge_point(*, charge_point: ChargePoint, at: datetime | None = None) -> Tariff | None:
    """The tariff in force at a charge point: its own assignment wins over its site's; among
    several, the latest `valid_from` not after `at`."""
    moment = _now(at)
    assignments = (
        TariffAssignment.objects.select_related("tariff").filter(valid_from__lte=moment).order_by("-valid_from")
    )
    own = assignments.filter(charge_point=charge_point).first()
    if own is not None:
        return own.tariff
    if charge_point.site_id is None:
        return None
    site = assignments.filter(site_id=charge_point.site_id).first()
    return site.tariff if site is not None else None


def electricity_price_current(*, market: str = DEFAULT_MARKET, at: datetime | None = None) -> ElectricityPrice:
    """The price of the hour containing `at` (default now). When it is missing the whole
    month is generated first (unless TARIFFS_GENERATE_MISSING_PRICES is off)."""
    hour = hour_floor(_now(at))
    price = ElectricityPrice.objects.filter(market=market, starts_at=hour).first()
    if price is not None:
        return price
    _generate_months(market=market, hours=[hour])
    return ElectricityPrice.objects.get(market=market, starts_at=hour)


def _generate_months(*, market: str, hours: Iterable[datetime]) -> None:
    from tariffs.services import electricity_prices_generate

    months = sorted({date(hour.year, hour.month, 1) for hour in hours})
    if not months:
        return
    if not settings.TARIFFS_GENERATE_MISSING_PRICES:
        raise PriceUnavailable(
            f"No electricity price for market {market!r} in {', '.join(f'{m:%Y-%m}' for m in months)}; "
            "import the prices (manage.py import_prices) or enable TARIFFS_GENERATE_MISSING_PRICES."
        )
    for month in months:
        electricity_prices_generate(month_start=month, market=market)


def electricity_prices_for_hours(
    *,
    market: str = DEFAULT_MARKET,
    start: datetime,
    end: datetime,
) -> dict[datetime, tuple[Decimal, str]]:
    """{UTC hour start: (price per kWh, currency)} for every hour touching [start, end).
    Missing hours are generated (per month) like `electricity_price_current` does."""
    first, last = hour_floor(start), hour_floor(max(start, end - timedelta(microseconds=1)))
    rows = ElectricityPrice.objects.filter(market=market, starts_at__gte=first, starts_at__lte=last)
    prices = {row[0]: (row[1], row[2]) for row in rows.values_list("starts_at", "price_per_kwh", "currency")}
    expected = int((last - first).total_seconds() // 3600) + 1
    if len(prices) < expected:
        missing = [first + timedelta(hours=i) for i in range(expected) if first + timedelta(hours=i) not in prices]
        _generate_months(market=market, hours=missing)
        prices = {row[0]: (row[1], row[2]) for row in rows.values_list("starts_at", "price_per_kwh", "currency")}
    return prices


def local_day_bounds(*, day: date, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a calendar day in a site's zone: 23, 24 or 25 hours long."""
    zone = zoneinfo.ZoneInfo(time_zone)
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


def electricity_price_list(
    *,
    market: str = DEFAULT_MARKET,
    start: datetime | None = None,
    end: datetime | None = None,
    day: date | None = None,
    time_zone: str = "UTC",
) -> QuerySet[ElectricityPrice]:
    """Prices of a market ordered by date (the seed's list ordered by date), optionally
    within [start, end) or within one local calendar day of `time_zone`."""
    prices = ElectricityPrice.objects.filter(market=market)
    if day is not None:
        start, end = local_day_bounds(day=day, time_zone=time_zone)
    if start is not None:
        prices = prices.filter(starts_at__gte=start)
    if end is not None:
        prices = prices.filter(starts_at__lt=end)
    return prices.order_by("starts_at")


def with_vat(amount: Decimal, vat_percent: Decimal) -> Decimal:
    return amount * (HUNDRED + vat_percent) / HUNDRED


def charge_point_prices(*, charge_point: ChargePoint, at: datetime | None = None) -> tuple[Decimal, Decimal]:
    """(energy price per kWh, waiting/idle price per minute), both including VAT, at `at`
    (default now): what the driver API shows as `price` and `waitingPrice`. Shown to four
    decimals; the invoice itself is priced by billing.pricing. No tariff: (0, 0)."""
    moment = _now(at)
    tariff = tariff_for_charge_point(charge_point=charge_point, at=moment)
    if tariff is None:
        return Decimal("0.0000"), Decimal("0.0000")
    per_kwh = tariff_energy_price(tariff=tariff, at=moment)
    return (
        with_vat(per_kwh, tariff.vat_percent).quantize(DISPLAY_PLACES, rounding=ROUND_HALF_UP),
        with_vat(tariff.idle_fee_per_minute, tariff.vat_percent).quantize(DISPLAY_PLACES, rounding=ROUND_HALF_UP),
    )


def tariff_energy_price(*, tariff: Tariff, at: datetime | None = None) -> Decimal:
    """The energy price per kWh before VAT at a moment: fixed, or the hour's price + markup."""
    if tariff.kind == Tariff.Kind.FIXED:
        return tariff.energy_price_per_kwh
    price = electricity_price_current(market=tariff.market, at=at)
    if price.currency != tariff.currency:
        raise PriceUnavailable(
            f"Tariff {tariff.name!r} is in {tariff.currency} but market {tariff.market!r} prices are in {price.currency}."
        )
    return price.price_per_kwh + tariff.markup_per_kwh


def local_time(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(time_zone))
