"""Operator portal pages: drivers, purchases, payments and wallets (read-only lists;
changes go through the Django admin and the services behind it)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.models import Purchase
from payments.models import Payment, Provider
from portal import selectors as ps
from portal.views import page_of, staff_required


@require_GET
@staff_required
def driver_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    page = page_of(request, ps.driver_list(scope=request.operator_scope, query=query))
    return render(request, "portal/driver_list.html", {"page": page, "q": query})


@require_GET
@staff_required
def purchase_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    page = page_of(request, ps.purchase_list(scope=request.operator_scope, status=status, query=query))
    return render(
        request,
        "portal/purchase_list.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": Purchase.Status.choices,
        },
    )


@require_GET
@staff_required
def payment_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    provider = request.GET.get("provider", "")
    query = request.GET.get("q", "").strip()
    page = page_of(
        request, ps.payment_list(scope=request.operator_scope, status=status, provider=provider, query=query)
    )
    return render(
        request,
        "portal/payment_list.html",
        {
            "page": page,
            "status": status,
            "provider": provider,
            "q": query,
            "statuses": Payment.Status.choices,
            "providers": Provider.choices,
        },
    )


@require_GET
@staff_required
def wallet_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    page = page_of(request, ps.wallet_list(scope=request.operator_scope, query=query))
    return render(request, "portal/wallet_list.html", {"page": page, "q": query})


@require_GET
@staff_required
def wallet_detail(request: HttpRequest, wallet_id: int) -> HttpResponse:
    wallet = ps.wallet_list(scope=request.operator_scope).filter(pk=wallet_id).first()
    if wallet is None:
        raise Http404("No such wallet.")
    return render(request, "portal/wallet_detail.html", {"wallet": wallet, "entries": ps.wallet_entries(wallet=wallet)})
