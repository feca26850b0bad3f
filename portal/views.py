"""Operator portal pages: login, dashboard, map, chargers (with remote commands) and the
frame journal. Each view parses the request, calls portal selectors (reads) or the
command bus (writes to a charger), and renders a template."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chargepoints.models import ChargePoint, OcppMessage
from ocpp_consumer import charging_profiles, commands, remote_control
from portal import selectors as ps

PAGE_SIZE = 50


# --- access ----------------------------------------------------------------------------


# The Django permission each portal page needs (issue 16: staff without permissions saw
# everything). A page missing here is refused to everyone but superusers. Pages that
# change something check their own permission too (commands: send_commands; price
# import/generation: add_electricityprice).
PAGE_PERMISSIONS = {
    "dashboard": "chargepoints.view_chargepoint",
    "dashboard_live": "chargepoints.view_chargepoint",
    "site_map": "chargepoints.view_chargepoint",
    "charger_list": "chargepoints.view_chargepoint",
    "charger_detail": "chargepoints.view_chargepoint",
    "charger_live": "chargepoints.view_chargepoint",
    "charger_command": "chargepoints.send_commands",
    "session_stop": "chargepoints.send_commands",
    "session_live": "sessions_app.view_chargesession",
    "journal": "chargepoints.view_ocppmessage",
    "site_load": "loadmanagement.view_siteloadsettings",
    "site_load_live": "loadmanagement.view_siteloadsettings",
    "session_list": "sessions_app.view_chargesession",
    "session_detail": "sessions_app.view_chargesession",
    "driver_list": "accounts.view_user",
    "purchase_list": "billing.view_purchase",
    "payment_list": "payments.view_payment",
    "wallet_list": "billing.view_wallet",
    "wallet_detail": "billing.view_wallet",
    "tariff_overview": "tariffs.view_tariff",
    "prices_import": "tariffs.view_electricityprice",
    "prices_generate": "tariffs.view_electricityprice",
}


def staff_required(view: Callable) -> Callable:
    """Portal pages are for operator staff: anonymous users go to the portal login,
    logged-in non-staff (drivers) and staff without the page's permission get 403."""
    permission = PAGE_PERMISSIONS.get(view.__name__, "")

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal-login"))
        if not request.user.is_staff:
            return no_access(request, driver=True)
        if not request.user.is_superuser and not (permission and request.user.has_perm(permission)):
            return no_access(request, driver=False)
        request.operator_scope = ps.scope_for(request.user)
        return view(request, *args, **kwargs)

    wrapper.portal_page = view.__name__  # (tests check every page names its permission)
    return wrapper


def no_access(request: HttpRequest, *, driver: bool) -> HttpResponse:
    """A styled 403 page: a driver (a non-staff account) learns where drivers go and can
    log out; staff learn that their permissions do not include the page."""
    return render(request, "portal/no_access.html", {"driver": driver}, status=403)


class PortalLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("portal-dashboard")


COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows: an exact COUNT(*) over a scoped join of 100,000
    purchases costs more than the page itself. Beyond the cap the page says "10,000+".

    The capped count drops the ordering (which rows make up the first COUNT_CAP + 1 does
    not change how many there are) and the annotations, so the database stops after
    COUNT_CAP + 1 matches instead of sorting them. Pages after the first fetch their
    primary keys first and then only those rows with their joins ("deferred join"):
    OFFSET otherwise builds the joined rows of every skipped row."""

    @property
    def count(self) -> int:
        if not hasattr(self, "_capped_count"):
            rows = self.object_list
            if isinstance(rows, QuerySet):
                # Without the ordering and the per-row annotations (a driver's session
                # count, a wallet's balance: one correlated subquery per counted row).
                rows = rows.order_by().values("pk")
            self._capped_count = rows[: COUNT_CAP + 1].count()
        return self._capped_count

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom == 0 or not isinstance(self.object_list, QuerySet):
            return super().page(number)
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        by_id = {row.pk: row for row in self.object_list.filter(pk__in=ids)}
        return self._get_page([by_id[pk] for pk in ids if pk in by_id], number, self)


def page_of(request: HttpRequest, queryset, per_page: int | None = None):
    return CappedPaginator(queryset, per_page or PAGE_SIZE).get_page(request.GET.get("page"))


# --- dashboard and map -----------------------------------------------------------------


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    series = ps.daily_series(scope=request.operator_scope)
    charts = {
        "days": [day.isoformat() for day in series.days],
        "energy_kwh": series.energy_kwh,
        "sessions": series.sessions,
        "revenue": series.revenue,
    }
    currencies = sorted(series.revenue)
    return render(
        request,
        "portal/dashboard.html",
        {
            **_live_context(request),
            "series": series,
            "charts": charts,
            "currencies": currencies,
            "revenue_currency": currencies[0] if currencies else ps.revenue_currency(scope=request.operator_scope),
            "rows": [
                (day, series.energy_kwh[i], series.sessions[i], [series.revenue[c][i] for c in currencies])
                for i, day in enumerate(series.days)
            ],
            "attention": ps.attention_charger_list(scope=request.operator_scope),
        },
    )


def _live_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "counts": ps.charger_counts(scope=request.operator_scope),
        "active_sessions": ps.active_session_list(scope=request.operator_scope),
        "updated_at": timezone.now(),
    }


@require_GET
@staff_required
def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The live part of the dashboard, re-fetched when the WebSocket says something changed."""
    return render(request, "portal/_dashboard_live.html", _live_context(request))


@require_GET
@staff_required
def site_map(request: HttpRequest) -> HttpResponse:
    points = ps.map_points(scope=request.operator_scope)
    return render(
        request,
        "portal/map.html",
        {
            "points": points,
            "tile_url": settings.PORTAL_MAP_TILE_URL,
            "tile_attribution": settings.PORTAL_MAP_TILE_ATTRIBUTION,
        },
    )


# --- chargers --------------------------------------------------------------------------


@require_GET
@staff_required
def charger_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    page = page_of(request, ps.charge_point_list(scope=request.operator_scope, query=query, status=status))
    connectors = ps.connector_status_map(charge_point_ids=[cp.id for cp in page.object_list])
    rows = [(cp, connectors.get(cp.id, [])) for cp in page.object_list]
    return render(request, "portal/charger_list.html", {"page": page, "rows": rows, "q": query, "status": status})


def _charger_or_404(request: HttpRequest, identity: str) -> ChargePoint:
    charge_point = ps.charge_point_get(scope=request.operator_scope, identity=identity)
    if charge_point is None:
        raise Http404("No such charger.")
    return charge_point


# The status history needs the permission the operator API asks for it too.
STATUS_HISTORY_PERMISSION = "chargepoints.view_connectorstatuschange"


def _charger_context(request: HttpRequest, charge_point: ChargePoint, **limits: int) -> dict:
    """What the charger page and its live fragment show; the status history only to users
    allowed to see it (otherwise not even queried)."""
    can_see_history = request.user.has_perm(STATUS_HISTORY_PERMISSION)
    history = ps.STATUS_HISTORY_ROWS if can_see_history else 0
    site = charge_point.site
    return {
        "cp": charge_point,
        "detail": ps.charger_detail(charge_point=charge_point, history=history, **limits),
        "time_zone": site.time_zone if site else "UTC",
        "can_see_history": can_see_history,
    }


@require_GET
@staff_required
def charger_detail(request: HttpRequest, identity: str) -> HttpResponse:
    charge_point = _charger_or_404(request, identity)
    context = _charger_context(request, charge_point)
    answer = request.session.pop("portal_command_answer", None)
    if answer and answer.get("identity") != identity:
        answer = None
    active = [s for s in context["detail"].recent_sessions if s.is_active]
    return render(
        request,
        "portal/charger_detail.html",
        {
            **context,
            "commands": COMMANDS,
            "answer": answer,
            "active_sessions": active,
            "cards": ps.remote_start_cards(charge_point=charge_point),
            "trigger_messages": TRIGGER_MESSAGES,
            "now_local": timezone.now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M"),
        },
    )


@require_GET
@staff_required
def charger_live(request: HttpRequest, identity: str) -> HttpResponse:
    charge_point = _charger_or_404(request, identity)
    context = _charger_context(request, charge_point, frames=25, variables=0)
    return render(request, "portal/_charger_live.html", {**context, "updated_at": timezone.now()})


# --- remote commands -------------------------------------------------------------------

TRIGGER_MESSAGES = [
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
]
LIMIT_PROFILE_BASE_ID = 900  # portal limits use profile id 900 + connector, so a new limit replaces the old
# Names the portal on the ChargingProfile rows the command bus records (ocpp_consumer.answers).
SOURCE = "portal"


class CommandInputError(ValueError):
    """The form did not describe a valid command."""


def _int(data, name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = (data.get(name) or "").strip()
    if raw == "" and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CommandInputError(f"{name} must be a whole number.") from None
    if value < minimum:
        raise CommandInputError(f"{name} must be at least {minimum}.")
    return value


def _text(data, name: str, *, required: bool = True) -> str:
    value = (data.get(name) or "").strip()
    if required and not value:
        raise CommandInputError(f"{name} is required.")
    return value


def _choice(data, name: str, choices: list[str]) -> str:
    value = (data.get(name) or "").strip()
    if value not in choices:
        raise CommandInputError(f"{name} must be one of {', '.join(choices)}.")
    return value


def _iso_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


HARD_RESET_CONFIRMATION = "yes"


def _payload_reset(data) -> dict:
    """A hard reset cuts running sessions short: it is sent only when the form's
    confirmation box is ticked."""
    kind = _choice(data, "type", ["Soft", "Hard"])
    if kind == "Hard" and (data.get("confirm") or "") != HARD_RESET_CONFIRMATION:
        raise CommandInputError(
            "a hard reset restarts the charger at once and ends its sessions: tick the confirmation."
        )
    return {"type": kind}


def _payload_unlock(data) -> dict:
    return {"connectorId": _int(data, "connectorId", minimum=1)}


def _payload_availability(data) -> dict:
    return {
        "connectorId": _int(data, "connectorId", default=0),
        "type": _choice(data, "type", ["Operative", "Inoperative"]),
    }


def _payload_limit(data) -> dict:
    connector_id = _int(data, "connectorId", default=0)
    unit = _choice(data, "unit", ["W", "A"])
    try:
        limit = float(_text(data, "limit"))
    except ValueError:
        raise CommandInputError("limit must be a number.") from None
    if limit < 0:
        raise CommandInputError("limit must not be negative.")
    return charging_profiles.set_profile_payload(
        connector_id=connector_id,
        profile_id=LIMIT_PROFILE_BASE_ID + connector_id,
        stack_level=0,
        purpose="ChargePointMaxProfile" if connector_id == 0 else "TxDefaultProfile",
        kind="Absolute",
        charging_schedule=charging_profiles.schedule(
            unit=unit, start=_iso_now(), periods=[{"startPeriod": 0, "limit": round(limit, 1)}]
        ),
    )


def _payload_clear_limit(data) -> dict:
    return {"id": LIMIT_PROFILE_BASE_ID + _int(data, "connectorId", default=0)}


def _payload_trigger(data) -> dict:
    payload: dict[str, Any] = {"requestedMessage": _choice(data, "requestedMessage", TRIGGER_MESSAGES)}
    if (data.get("connectorId") or "").strip():
        payload["connectorId"] = _int(data, "connectorId", minimum=1)
    return payload


def _payload_get_configuration(data) -> dict:
    keys = [k.strip() for k in (data.get("key") or "").split(",") if k.strip()]
    return {"key": keys} if keys else {}


def _payload_change_configuration(data) -> dict:
    return {"key": _text(data, "key"), "value": _text(data, "value", required=False)}


def _payload_remote_start(data) -> dict:
    return {"connectorId": _int(data, "connectorId", minimum=1), "idTag": _text(data, "idTag")}


def _payload_remote_stop(data) -> dict:
    # Text: an OCPP 2.0.1 transaction id is a string (remote_control makes it an integer for 1.6).
    return {"transactionId": _text(data, "transactionId")}


def _payload_firmware(data) -> dict:
    return {"location": _text(data, "location"), "retrieveDate": _iso_now()}


def _payload_diagnostics(data) -> dict:
    return {"location": _text(data, "location")}


def _payload_empty(data) -> dict:
    return {}


# (form id, OCPP 1.6 action, button label, payload builder). The command bus translates
# the 1.6 actions for OCPP 2.0.1 chargers.
COMMANDS: list[dict[str, Any]] = [
    {"id": "reset", "action": "Reset", "label": "Reset", "build": _payload_reset},
    {"id": "unlock", "action": "UnlockConnector", "label": "Unlock connector", "build": _payload_unlock},
    {
        "id": "availability",
        "action": "ChangeAvailability",
        "label": "Change availability",
        "build": _payload_availability,
    },
    {"id": "limit", "action": "SetChargingProfile", "label": "Set power limit", "build": _payload_limit},
    {
        "id": "clear-limit",
        "action": "ClearChargingProfile",
        "label": "Clear power limit",
        "build": _payload_clear_limit,
    },
    {"id": "trigger", "action": "TriggerMessage", "label": "Trigger message", "build": _payload_trigger},
    {
        "id": "get-configuration",
        "action": "GetConfiguration",
        "label": "Get configuration",
        "build": _payload_get_configuration,
    },
    {
        "id": "change-configuration",
        "action": "ChangeConfiguration",
        "label": "Change configuration",
        "build": _payload_change_configuration,
    },
    {"id": "remote-start", "action": "RemoteStartTransaction", "label": "Remote start", "build": _payload_remote_start},
    {"id": "remote-stop", "action": "RemoteStopTransaction", "label": "Remote stop", "build": _payload_remote_stop},
    {"id": "firmware", "action": "UpdateFirmware", "label": "Update firmware", "build": _payload_firmware},
    {"id": "diagnostics", "action": "GetDiagnostics", "label": "Get diagnostics", "build": _payload_diagnostics},
    {"id": "clear-cache", "action": "ClearCache", "label": "Clear cache", "build": _payload_empty},
]
COMMANDS_BY_ID = {command["id"]: command for command in COMMANDS}


def command_timeout() -> float:
    # A page request should not hang for the bus's full 60 s default.
    return settings.PORTAL_COMMAND_TIMEOUT


def run_command(*, identity: str, action: str, payload: dict) -> dict[str, Any]:
    """Send one command and describe the outcome: the charger's answer or a clear error."""
    return command_outcome(lambda: commands.send(identity, action, payload, timeout=command_timeout(), source=SOURCE))


def command_outcome(send: Callable[[], dict]) -> dict[str, Any]:
    """The charger's answer to one command, or a clear error: the portal's one mapping of the
    command bus's errors."""
    try:
        answer = send()
    except commands.CommandError as exc:
        return {"ok": False, "error": _describe_error(exc)}
    return {"ok": True, "answer": answer}


_ERROR_TITLES: list[tuple[type[Exception], str]] = [
    (commands.ChargerOffline, "The charger is offline"),
    (commands.CommandUnavailable, "Commands are unavailable right now"),
    (commands.CommandTimeout, "No answer from the charger in time"),
    (commands.CallErrorReceived, "The charger answered with a CALLERROR"),
    (commands.InvalidPayload, "The command was not valid"),
    (commands.InvalidAnswer, "The charger's answer was not valid"),
    (remote_control.NotStoppable, "No such transaction"),
]


def _describe_error(exc: Exception) -> str:
    title = next(
        (text for kind, text in _ERROR_TITLES if isinstance(exc, kind)), f"The command failed ({type(exc).__name__})"
    )
    detail = str(exc).strip()
    return f"{title}: {detail}" if detail else title


def _send_command(charge_point: ChargePoint, command: dict[str, Any], payload: dict) -> dict[str, Any]:
    """Starts and stops go through ocpp_consumer.remote_control (either protocol); every other
    command is sent as built (the bus translates 1.6 actions for 2.0.1 chargers)."""
    if command["id"] == "remote-start":
        connector = charge_point.connectors.select_related("evse").filter(connector_id=payload["connectorId"]).first()
        if connector is None:
            return {"ok": False, "error": f"Not sent: the charger has no connector {payload['connectorId']}."}
        return command_outcome(
            lambda: remote_control.remote_start(
                charge_point=charge_point,
                connector=connector,
                id_tag=payload["idTag"],
                timeout=command_timeout(),
                source=SOURCE,
            )
        )
    if command["id"] == "remote-stop":
        return command_outcome(
            lambda: remote_control.remote_stop_transaction(
                charge_point=charge_point,
                transaction_id=payload["transactionId"],
                timeout=command_timeout(),
                source=SOURCE,
            )
        )
    return run_command(identity=charge_point.identity, action=command["action"], payload=payload)


@require_POST
@staff_required
def charger_command(request: HttpRequest, identity: str) -> HttpResponse:
    charge_point = _charger_or_404(request, identity)
    if not request.user.has_perm("chargepoints.send_commands"):
        raise PermissionDenied("Sending commands needs the send_commands permission (the Operator engineer role).")
    command = COMMANDS_BY_ID.get(request.POST.get("command", ""))
    if command is None:
        messages.error(request, "Unknown command.")
        return redirect("portal-charger", identity=identity)
    try:
        payload = command["build"](request.POST)
    except CommandInputError as exc:
        outcome = {"ok": False, "error": f"Not sent: {exc}"}
        payload = None
    else:
        outcome = _send_command(charge_point, command, payload)
    request.session["portal_command_answer"] = {
        "identity": identity,
        "label": command["label"],
        "action": command["action"],
        "payload": json.dumps(payload) if payload is not None else "",
        "answer": json.dumps(outcome.get("answer"), indent=2, sort_keys=True) if outcome["ok"] else "",
        "status": (outcome.get("answer") or {}).get("status", "") if outcome["ok"] else "",
        "error": outcome.get("error", ""),
        "ok": outcome["ok"],
        "at": timezone.now().isoformat(),
    }
    return redirect(reverse("portal-charger", kwargs={"identity": identity}) + "#command-answer")


# --- journal ---------------------------------------------------------------------------


@require_GET
@staff_required
def journal(request: HttpRequest) -> HttpResponse:
    filters = {
        "identity": request.GET.get("identity", "").strip(),
        "action": request.GET.get("action", "").strip(),
        "direction": request.GET.get("direction", ""),
        "unique_id": request.GET.get("unique_id", "").strip(),
        "text": request.GET.get("text", "").strip(),
    }
    before = request.GET.get("before", "")
    frames, next_id = ps.journal_page(
        scope=request.operator_scope,
        before_id=int(before) if before.isdigit() else None,
        **filters,
    )
    query = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "portal/journal.html",
        {
            "frames": frames,
            "next_id": next_id,
            "filters": filters,
            "query": query,
            "text_ignored": bool(filters["text"] and not filters["identity"]),
            "directions": OcppMessage.Direction.choices,
        },
    )
