"""Operator portal pages for charge sessions: the list and one session with its chart,
priced lines and payments."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal import selectors as ps
from portal.views import page_of, staff_required
from sessions_app.models import ChargeSession


@require_GET
@staff_required
def session_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    page = page_of(request, ps.session_list(scope=request.operator_scope, status=status, query=query))
    return render(
        request,
        "portal/session_list.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": ChargeSession.Status.choices,
        },
    )


@require_GET
@staff_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    session = ps.session_get(scope=request.operator_scope, session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    purchase, lines, payments = ps.session_purchase(session=session)
    site = session.charge_point.site
    return render(
        request,
        "portal/session_detail.html",
        {
            "s": session,
            "chart": ps.session_chart(session=session),
            "time_zone": site.time_zone if site else "UTC",
            "purchase": purchase,
            "lines": lines,
            "payments": payments,
            "anomalies": ps.session_anomalies(session=session),
        },
    )
