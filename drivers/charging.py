"""A driver starts and finishes charging from the app; live CHARGING events while it lasts.

Starts and stops go through ocpp_consumer.remote_control (either protocol, any process).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.errors import (
    Conflict,
    DomainError,
    NotFound,
    PaymentRequired,
    Unavailable,
    UpstreamFailed,
    UpstreamTimeout,
)
from accounts.models import User
from billing.pricing import session_idle_minutes
from billing.selectors import session_running_figures
from billing.services import purchase_create_for_session
from chargepoints.models import (
    ChargePoint,
    Connector,
    ConnectorStatus,
    IdToken,
    IdTokenStatus,
    IdTokenType,
    RegistrationStatus,
)
from drivers.devices import device_get, driver_active_session, driver_balance
from ocpp_consumer import commands, remote_control
from sessions_app.models import ChargeSession, StopReason
from sessions_app.services import charge_session_close_by_server

logger = logging.getLogger(__name__)

ACCEPTED = "Accepted"
# A 1.6 idTag is at most 20 characters: "APP" + 16 hex digits.
APP_TOKEN_PREFIX = "APP"


# --- commands ------------------------------------------------------------------------------


def _charger_answer(send: Callable[[], dict]) -> dict:
    """The charger's answer to one command, or a domain error that says what went wrong
    (offline, timeout, error): the driver API's one mapping of the command bus's errors."""
    try:
        answer = send()
    except remote_control.NotStoppable:
        raise
    except commands.ChargerOffline:
        raise Conflict("The charger is offline.", code="charger_offline") from None
    except commands.CommandUnavailable as exc:
        raise Unavailable(str(exc), code="commands_unavailable") from None
    except commands.CommandTimeout:
        raise UpstreamTimeout("The charger did not answer in time.", code="charger_timeout") from None
    except commands.CommandError as exc:
        raise UpstreamFailed(f"The charger answered with an error: {exc}", code="charger_error") from None
    answer = answer or {}
    if answer.get("status") == "Timeout":
        raise UpstreamTimeout("The charger did not answer in time.", code="charger_timeout")
    return answer


# --- start ---------------------------------------------------------------------------------


def driver_app_id_token(*, user: User) -> IdToken:
    """The driver's app token (type Central): what a remote start authorises with."""
    token = (
        IdToken.objects.filter(user=user, token_type=IdTokenType.CENTRAL, status=IdTokenStatus.ACCEPTED)
        .order_by("created_at", "pk")
        .first()
    )
    if token is None:
        token = IdToken.objects.create(
            uid=f"{APP_TOKEN_PREFIX}{secrets.token_hex(8).upper()}",
            token_type=IdTokenType.CENTRAL,
            name=f"App of {user.phone or user.username}",
            user=user,
        )
    return token


def _free_connector(charge_point: ChargePoint) -> Connector | None:
    candidates = (
        charge_point.connectors.select_related("evse")
        .filter(status__in=[ConnectorStatus.PREPARING, ConnectorStatus.AVAILABLE])
        .exclude(sessions__status=ChargeSession.Status.ACTIVE)
    )
    # A plugged-in connector (Preparing) is the one the driver in front of the charger means.
    for status in (ConnectorStatus.PREPARING, ConnectorStatus.AVAILABLE):
        for connector in candidates:
            if connector.status == status:
                return connector
    return None


def _can_pay(*, user: User, charge_point: ChargePoint) -> bool:
    if driver_balance(user=user) >= Decimal(settings.DRIVERS_MIN_WALLET_BALANCE):
        return True
    # A card: a pre-authorisation (payments area) already reserved for this charger.
    from payments.models import Reservation

    return Reservation.objects.filter(
        user=user,
        charge_point=charge_point,
        status=Reservation.Status.AUTHORIZED,
        session__isnull=True,
    ).exists()


def driver_charging_start(*, user: User, device_id: str) -> dict:
    """Start charging on a charger; answers once the charger accepted."""
    charge_point = device_get(device_id=device_id)
    if charge_point is None:
        raise NotFound("No charger with this id.")
    lock = f"drivers:start:{user.pk}"
    # One start at a time per driver, even across web processes.
    if not cache.add(lock, 1, timeout=int(settings.DRIVERS_COMMAND_TIMEOUT) + 10):
        raise Conflict("A start is already in progress.", code="start_in_progress")
    try:
        if driver_active_session(user=user) is not None:
            raise Conflict("You are already charging; finish that session first.", code="session_active")
        if not charge_point.is_operative or charge_point.registration_status != RegistrationStatus.ACCEPTED:
            raise Conflict("This charger is out of service.", code="charger_unavailable")
        if not charge_point.is_online:
            raise Conflict("The charger is offline.", code="charger_offline")
        connector = _free_connector(charge_point)
        if connector is None:
            out_of_order = {ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE}
            if all(status in out_of_order for status in charge_point.connectors.values_list("status", flat=True)):
                raise Conflict("This charger is out of order.", code="charger_out_of_order")
            raise Conflict("No free connector on this charger.", code="charger_busy")
        if not _can_pay(user=user, charge_point=charge_point):
            raise PaymentRequired(
                f"Top up your wallet to at least {settings.DRIVERS_MIN_WALLET_BALANCE} or add a card to charge.",
                code="payment_required",
            )
        token = driver_app_id_token(user=user)
        answer = _charger_answer(
            lambda: remote_control.remote_start(
                charge_point=charge_point,
                connector=connector,
                id_tag=token.uid,
                id_token_type=token.token_type,
                timeout=settings.DRIVERS_COMMAND_TIMEOUT,
            )
        )
        if answer.get("status") != ACCEPTED:
            raise Conflict("The charger refused to start.", code="start_rejected")
    finally:
        cache.delete(lock)
    return {"status": ACCEPTED, "connectorId": connector.connector_id}


# --- finish --------------------------------------------------------------------------------


def session_close_by_server(*, session_id: int, reason: str) -> ChargeSession:
    """Close a session the charger never closed: energy from its last meter value, stopped
    now, closed_by=server, with a closed_by_server anomaly for operators (sessions_app's
    charge_session_close_by_server, which also requests the purchase).
    """
    logger.warning("closing session %s by server: %s", session_id, reason)
    return charge_session_close_by_server(session_id=session_id, reason=StopReason.REMOTE)


def _wait_until_closed(session_id: int) -> bool:
    deadline = time.monotonic() + settings.DRIVERS_FINISH_WAIT_SECONDS
    while True:
        if ChargeSession.objects.filter(pk=session_id).exclude(status=ChargeSession.Status.ACTIVE).exists():
            return True
        if time.monotonic() >= deadline:
            return False
        commands.release_database_connection()  # not held through the sleeps (the pool's)
        time.sleep(settings.DRIVERS_FINISH_POLL_SECONDS)


def _purchase_id(session: ChargeSession) -> str:
    return str(purchase_create_for_session(session_id=session.pk).pk)


def _session_to_finish(*, user: User, charge_point: ChargePoint) -> ChargeSession | None:
    """The session the app started on this charger (authorised with the driver's app
    token), newest first; only without one the driver's newest other session there (an
    RFID card of theirs). Finish must not stop the card's session and leave the app's."""
    active = ChargeSession.objects.filter(user=user, charge_point=charge_point, status=ChargeSession.Status.ACTIVE)
    app_tokens = IdToken.objects.filter(user=user, token_type=IdTokenType.CENTRAL).values("uid")
    return (
        active.filter(id_tag__in=app_tokens).order_by("-started_at", "-pk").first()
        or active.order_by("-started_at", "-pk").first()
    )


def driver_charging_finish(*, user: User, device_id: str) -> str:
    """Stop the driver's session on this charger and answer its purchase id."""
    charge_point = device_get(device_id=device_id)
    if charge_point is None:
        raise NotFound("No charger with this id.")
    session = _session_to_finish(user=user, charge_point=charge_point)
    if session is None:
        # The charger may have stopped on its own (cable pulled): answer that session's purchase.
        since = timezone.now() - timedelta(seconds=settings.DRIVERS_FINISH_GRACE_SECONDS)
        recent = (
            ChargeSession.objects.filter(
                user=user, charge_point=charge_point, status=ChargeSession.Status.COMPLETED, stopped_at__gte=since
            )
            .order_by("-stopped_at")
            .first()
        )
        if recent is None:
            raise NotFound("You have no session on this charger.")
        return _purchase_id(recent)
    reason = ""
    try:
        answer = _charger_answer(
            lambda: remote_control.remote_stop(session=session, timeout=settings.DRIVERS_COMMAND_TIMEOUT)
        )
    except remote_control.NotStoppable:
        reason = "no usable transaction id"
    except DomainError as exc:
        reason = exc.code
    else:
        if answer.get("status") != ACCEPTED:
            reason = "stop_rejected"
    # Offline or silent chargers cannot report a stop, so only an accepted (or refused:
    # maybe already stopping) stop is worth waiting for.
    if reason in ("", "stop_rejected") and _wait_until_closed(session.pk):
        session.refresh_from_db()
    else:
        session = session_close_by_server(session_id=session.pk, reason=reason or "no stop from the charger")
    return _purchase_id(session)


# --- live CHARGING events ------------------------------------------------------------------


def session_waiting_minutes(session: ChargeSession, *, now=None) -> int:
    """Idle minutes so far, as billing prices them (billing.pricing owns the definition:
    the live figure and the purchase must never disagree)."""
    return session_idle_minutes(session=session, until=now)


def charging_event_data(session: ChargeSession) -> dict:
    """{energy (kWh), waitingTime (minutes), amount (money so far)} for one active session,
    all three from the one pricing the purchase will come from."""
    figures = session_running_figures(session=session)
    return {
        "energy": (Decimal(figures.energy_wh) / 1000).quantize(Decimal("0.001")),
        "waitingTime": figures.idle_minutes,
        "amount": figures.total,
    }


def charging_events_emit() -> int:
    """Send a CHARGING event to every driver with an active session; answers how many."""
    from drivers.events import CHARGING, emit

    sent = 0
    for session in ChargeSession.objects.filter(status=ChargeSession.Status.ACTIVE, user__isnull=False).select_related(
        "charge_point"
    ):
        try:
            emit(session.user_id, CHARGING, charging_event_data(session))
            sent += 1
        except Exception:  # one broken session must not silence everyone else's events
            logger.exception("CHARGING event for session %s failed", session.pk)
    return sent
