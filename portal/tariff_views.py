"""Operator portal: the operator's tariffs, the hourly price curve of a chosen day in a
site's time zone, CSV import and generating a month of prices."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from portal import selectors as ps
from portal.views import staff_required
from tariffs.models import DEFAULT_MARKET, ElectricityPrice, Tariff
from tariffs.selectors import electricity_price_list, local_time

PRICE_PERMISSION = "tariffs.add_electricityprice"


def _can_edit_prices(request: HttpRequest) -> bool:
    # Hourly prices are shared by every operator on a market: editing them is a platform job.
    return request.user.has_perm(PRICE_PERMISSION)


def _parse_day(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        return default


@require_GET
@staff_required
def tariff_overview(request: HttpRequest) -> HttpResponse:
    sites = list(ps.site_list(scope=request.operator_scope).only("id", "name", "time_zone")[:500])
    site = next((s for s in sites if str(s.id) == request.GET.get("site", "")), sites[0] if sites else None)
    time_zone = site.time_zone if site else "UTC"
    today = local_time(timezone.now(), time_zone).date()
    day = _parse_day(request.GET.get("day", ""), today)
    tariffs = _tariffs(request)
    markets = sorted({DEFAULT_MARKET, *(t.market for t in tariffs if t.kind == Tariff.Kind.DYNAMIC)})
    market = request.GET.get("market") or DEFAULT_MARKET
    if market not in markets:
        markets.append(market)
    prices = list(electricity_price_list(market=market, day=day, time_zone=time_zone))
    curve = [
        {
            "hour": local_time(p.starts_at, time_zone).strftime("%H:%M"),
            "price": str(p.price_per_kwh),
            "currency": p.currency,
            "source": p.source,
        }
        for p in prices
    ]
    return render(
        request,
        "portal/tariffs.html",
        {
            "sites": sites,
            "site": site,
            "time_zone": time_zone,
            "day": day,
            "market": market,
            "markets": markets,
            "tariffs": tariffs,
            "curve": curve,
            "can_edit": _can_edit_prices(request),
            "currency": prices[0].currency if prices else "",
            "month": today.strftime("%Y-%m"),
            "sources": ElectricityPrice.Source.choices,
        },
    )


def _tariffs(request: HttpRequest) -> list[Tariff]:
    return list(
        request.operator_scope.filter(Tariff.objects.select_related("operator"), "operator_id").order_by(
            "operator__name", "name"
        )
    )


def _back(request: HttpRequest):
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/tariffs/") else "portal-tariffs")


@require_POST
@staff_required
def prices_import(request: HttpRequest) -> HttpResponse:
    if not _can_edit_prices(request):
        raise PermissionDenied("Importing prices needs the 'add electricity price' permission.")
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file to import.")
        return _back(request)
    from tariffs.services import electricity_prices_import_csv

    result = electricity_prices_import_csv(
        file=upload.file,
        market=request.POST.get("market") or DEFAULT_MARKET,
        unit=request.POST.get("unit") or None,
        currency=(request.POST.get("currency") or "").upper() or None,
        time_zone=request.POST.get("time_zone") or None,
    )
    if result.ok:
        messages.success(request, f"Imported {result.rows} rows: {result.created} new hours, {result.updated} updated.")
    else:
        shown = "; ".join(str(error) for error in result.errors[:10])
        more = f" (and {len(result.errors) - 10} more)" if len(result.errors) > 10 else ""
        messages.error(request, f"Nothing was imported. {shown}{more}")
    return _back(request)


@require_POST
@staff_required
def prices_generate(request: HttpRequest) -> HttpResponse:
    if not _can_edit_prices(request):
        raise PermissionDenied("Generating prices needs the 'add electricity price' permission.")
    raw = request.POST.get("month", "")
    try:
        month_start = date.fromisoformat(f"{raw}-01")
    except ValueError:
        messages.error(request, "Give the month as YYYY-MM.")
        return _back(request)
    from tariffs.services import electricity_prices_generate

    market = request.POST.get("market") or DEFAULT_MARKET
    created = electricity_prices_generate(month_start=month_start, market=market)
    messages.success(
        request,
        f"Generated {created} hourly prices for {month_start:%B %Y} on market {market!r} "
        "(hours that already had a price were kept).",
    )
    return _back(request)
