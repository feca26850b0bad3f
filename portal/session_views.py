"""Operator portal pages for charge sessions: the list (with a stop button for running
sessions), one session with its charging curve, latest meter readings, priced lines and
payments, and its live figures (energy, power, cost so far) re-fetched when the portal's
socket says the charger moved."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from ocpp_consumer import remote_control
from portal import selectors as ps
from portal.views import SOURCE, command_outcome, command_timeout, page_of, staff_required
from sessions_app.models import ChargeSession

# The table of meter readings (and the operator API it links to) needs this permission.
METER_VALUES_PERMISSION = "sessions_app.view_metersample"


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
            "can_stop": request.user.has_perm("chargepoints.send_commands"),
        },
    )


def _session_or_404(request: HttpRequest, session_id: int) -> ChargeSession:
    session = ps.session_get(scope=request.operator_scope, session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    return session


def _live_context(session: ChargeSession) -> dict:
    site = session.charge_point.site
    return {
        "s": session,
        "time_zone": site.time_zone if site else "UTC",
        "display_status": ps.connector_display_status_get(
            identity=session.charge_point.identity,
            connector_id=session.connector.connector_id,
            status=session.connector.status,
        )
        if session.is_active
        else "",
        "cost": ps.session_cost_so_far(session=session),
        "updated_at": timezone.now(),
    }


@require_GET
@staff_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(request, session_id)
    purchase, lines, payments = ps.session_purchase(session=session)
    can_see_meter_values = request.user.has_perm(METER_VALUES_PERMISSION)
    return render(
        request,
        "portal/session_detail.html",
        {
            **_live_context(session),
            "chart": ps.session_chart(session=session),
            "meter": ps.session_meter_table(session=session) if can_see_meter_values else None,
            "purchase": purchase,
            "lines": lines,
            "payments": payments,
            "anomalies": ps.session_anomalies(session=session),
            "can_stop": request.user.has_perm("chargepoints.send_commands"),
        },
    )


@require_GET
@staff_required
def session_live(request: HttpRequest, session_id: int) -> HttpResponse:
    """The live figures of one session, re-fetched on the charger's cp.state messages."""
    return render(request, "portal/_session_live.html", _live_context(_session_or_404(request, session_id)))


@require_POST
@staff_required
def session_stop(request: HttpRequest, session_id: int) -> HttpResponse:
    """Ask the charger to stop a running session (either protocol, through the one stop
    path in ocpp_consumer.remote_control) and say what it answered."""
    session = _session_or_404(request, session_id)
    if not request.user.has_perm("chargepoints.send_commands"):
        raise PermissionDenied("Stopping a session needs the send_commands permission (the Operator engineer role).")
    label = f"Session {session.transaction_id or session.pk} on {session.charge_point.identity}"
    if not session.is_active:
        messages.error(request, f"{label} has already ended.")
    else:
        outcome = command_outcome(
            lambda: remote_control.remote_stop(session=session, timeout=command_timeout(), source=SOURCE)
        )
        if not outcome["ok"]:
            messages.error(request, f"{label}: not stopped. {outcome['error']}")
        elif (outcome["answer"] or {}).get("status") == "Accepted":
            messages.success(request, f"{label}: the charger accepted the stop.")
        else:
            messages.error(request, f"{label}: the charger answered {(outcome['answer'] or {}).get('status', '?')}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    return redirect(target or "portal-sessions")
