"""A driver starts and finishes charging from the app; live CHARGING events while it lasts.

Remote commands go through ocpp_consumer.commands.send (any process, via the channel
layer). OCPP 1.6 chargers get RemoteStart/RemoteStopTransaction, OCPP 2.0.1 chargers
RequestStart/RequestStopTransaction.
"""
from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.devices import device_get, driver_active_session, driver_balance
from accounts.errors import NotFound, ServiceError, parse_id
from accounts.models import User
from billing.pricing import session_idle_minutes
from chargepoints.models import ChargePoint, Connector, ConnectorStatus, IdToken, IdTokenStatus, IdTokenType, OcppVersion, RegistrationStatus
from sessions_app.models import ChargeSession, SessionAnomaly, StopReason

logger = logging.getLogger(__name__)

ACCEPTED = "Accepted"
# A 1.6 idTag is at most 20 characters: "APP" + 16 hex digits.
APP_TOKEN_PREFIX = "APP"


# --- commands ------------------------------------------------------------------------------

def _command(charge_point: ChargePoint, action: str, payload: dict) -> dict:
    """Send one command and answer the charger's reply, or raise a ServiceError that says
    what went wrong (offline, timeout, error)."""
    try:
        from ocpp_consumer import commands
    except ImportError:
        raise ServiceError("Remote commands are not available on this server.", code="commands_unavailable", status=503) from None
    try:
        answer = commands.send(charge_point.identity, action, payload, timeout=settings.DRIVERS_COMMAND_TIMEOUT)
    except commands.ChargerOffline:
        raise ServiceError("The charger is offline.", code="charger_offline", status=409) from None
    except commands.CommandTimeout:
        raise ServiceError("The charger did not answer in time.", code="charger_timeout", status=504) from None
    except commands.CommandError as exc:
        raise ServiceError(f"The charger answered with an error: {exc}", code="charger_error", status=502) from None
    answer = answer or {}
    if answer.get("status") == "Timeout":
        raise ServiceError("The charger did not answer in time.", code="charger_timeout", status=504)
    return answer


def _is_v201(charge_point: ChargePoint) -> bool:
    return charge_point.protocol == OcppVersion.V201


def _remote_start_id(charge_point: ChargePoint, connector: Connector, id_token: IdToken) -> int:
    """OCPP 2.0.1 remoteStartId: a RemoteStartRequest row's pk when sessions_app records
    them (it links the charger's TransactionEvent back to the driver), else a random id."""
    try:
        from sessions_app.transaction_events import remote_start_request_add
    except ImportError:
        return secrets.randbelow(2**31 - 1) + 1
    request = remote_start_request_add(
        charge_point=charge_point, id_token=id_token.uid, id_token_type=id_token.token_type,
        evse_id=connector.evse.evse_id, user_id=id_token.user_id,
    )
    return request.pk


def _remote_start_answered(remote_start_id: int, answer: dict) -> None:
    try:
        from sessions_app.transaction_events import remote_start_request_answered
    except ImportError:
        return
    remote_start_request_answered(
        remote_start_id=remote_start_id, status=answer.get("status", ""), transaction_id=answer.get("transactionId") or "",
    )


def start_command(charge_point: ChargePoint, connector: Connector, id_token: IdToken) -> tuple[str, dict]:
    if _is_v201(charge_point):
        return "RequestStartTransaction", {
            "idToken": {"idToken": id_token.uid, "type": id_token.token_type},
            "remoteStartId": _remote_start_id(charge_point, connector, id_token),
            "evseId": connector.evse.evse_id,
        }
    return "RemoteStartTransaction", {"connectorId": connector.connector_id, "idTag": id_token.uid}


def stop_command(charge_point: ChargePoint, session: ChargeSession) -> tuple[str, dict] | None:
    """The stop to send for a session, or None when there is nothing to address it by."""
    if _is_v201(charge_point) or session.ocpp_version == OcppVersion.V201:
        return ("RequestStopTransaction", {"transactionId": session.transaction_id}) if session.transaction_id else None
    transaction_id = parse_id(session.transaction_id)
    return None if transaction_id is None else ("RemoteStopTransaction", {"transactionId": transaction_id})


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
            uid=f"{APP_TOKEN_PREFIX}{secrets.token_hex(8).upper()}", token_type=IdTokenType.CENTRAL,
            name=f"App of {user.phone or user.username}", user=user,
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
        user=user, charge_point=charge_point, status=Reservation.Status.AUTHORIZED, session__isnull=True,
    ).exists()


def driver_charging_start(*, user: User, device_id: str) -> dict:
    """Start charging on a charger; answers once the charger accepted."""
    charge_point = device_get(device_id=device_id)
    if charge_point is None:
        raise NotFound("No charger with this id.")
    lock = f"drivers:start:{user.pk}"
    # One start at a time per driver, even across web processes.
    if not cache.add(lock, 1, timeout=int(settings.DRIVERS_COMMAND_TIMEOUT) + 10):
        raise ServiceError("A start is already in progress.", code="start_in_progress", status=409)
    try:
        if driver_active_session(user=user) is not None:
            raise ServiceError("You are already charging; finish that session first.", code="session_active", status=409)
        if not charge_point.is_operative or charge_point.registration_status != RegistrationStatus.ACCEPTED:
            raise ServiceError("This charger is out of service.", code="charger_unavailable", status=409)
        if not charge_point.is_online:
            raise ServiceError("The charger is offline.", code="charger_offline", status=409)
        connector = _free_connector(charge_point)
        if connector is None:
            raise ServiceError("No free connector on this charger.", code="charger_busy", status=409)
        if not _can_pay(user=user, charge_point=charge_point):
            raise ServiceError(
                f"Top up your wallet to at least {settings.DRIVERS_MIN_WALLET_BALANCE} or add a card to charge.",
                code="payment_required", status=402,
            )
        action, payload = start_command(charge_point, connector, driver_app_id_token(user=user))
        answer = _command(charge_point, action, payload)
        if "remoteStartId" in payload:
            _remote_start_answered(payload["remoteStartId"], answer)
        if answer.get("status") != ACCEPTED:
            raise ServiceError("The charger refused to start.", code="start_rejected", status=409)
    finally:
        cache.delete(lock)
    return {"status": ACCEPTED, "connectorId": connector.connector_id}


# --- finish --------------------------------------------------------------------------------

def session_close_by_server(*, session_id: int, reason: str) -> ChargeSession:
    """Close a session the charger never closed: energy from its last meter value, stopped
    now, closed_by=server, with a closed_by_server anomaly for operators.

    sessions_app's charge_session_close_by_server does it (and requests the purchase);
    the fallback below only runs where that area is not deployed.
    """
    logger.warning("closing session %s by server: %s", session_id, reason)
    try:
        from sessions_app.services import charge_session_close_by_server
    except ImportError:
        charge_session_close_by_server = None
    if charge_session_close_by_server is not None:
        return charge_session_close_by_server(session_id=session_id, reason=StopReason.REMOTE)
    with transaction.atomic():
        session = ChargeSession.objects.select_for_update().get(pk=session_id)
        if session.status != ChargeSession.Status.ACTIVE:
            return session
        last = session.meter_last_wh if session.meter_last_wh is not None else session.meter_start_wh
        session.meter_stop_wh = max(last, session.meter_start_wh)
        session.stopped_at = max(timezone.now(), session.started_at)
        session.status = ChargeSession.Status.COMPLETED
        session.closed_by = ChargeSession.ClosedBy.SERVER
        session.stop_reason = StopReason.REMOTE
        session.save(update_fields=["meter_stop_wh", "stopped_at", "status", "closed_by", "stop_reason", "updated_at"])
        SessionAnomaly.objects.create(
            session=session, kind=SessionAnomaly.Kind.CLOSED_BY_SERVER,
            detail={"reason": reason, "meter_stop_wh": session.meter_stop_wh, "source": "driver finish"},
        )
    return session


def _wait_until_closed(session_id: int) -> bool:
    deadline = time.monotonic() + settings.DRIVERS_FINISH_WAIT_SECONDS
    while True:
        if ChargeSession.objects.filter(pk=session_id).exclude(status=ChargeSession.Status.ACTIVE).exists():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(settings.DRIVERS_FINISH_POLL_SECONDS)


def _purchase_id(session: ChargeSession) -> str:
    try:
        from billing.services import purchase_create_for_session
    except ImportError:
        from billing.models import Purchase

        purchase = Purchase.objects.filter(session=session).first()
        if purchase is None:
            raise ServiceError("Billing is not available; try again later.", code="billing_unavailable", status=503) from None
        return str(purchase.pk)
    return str(purchase_create_for_session(session_id=session.pk).pk)


def driver_charging_finish(*, user: User, device_id: str) -> str:
    """Stop the driver's session on this charger and answer its purchase id."""
    charge_point = device_get(device_id=device_id)
    if charge_point is None:
        raise NotFound("No charger with this id.")
    session = ChargeSession.objects.filter(user=user, charge_point=charge_point, status=ChargeSession.Status.ACTIVE).first()
    if session is None:
        # The charger may have stopped on its own (cable pulled): answer that session's purchase.
        since = timezone.now() - timedelta(seconds=settings.DRIVERS_FINISH_GRACE_SECONDS)
        recent = (
            ChargeSession.objects.filter(user=user, charge_point=charge_point, status=ChargeSession.Status.COMPLETED, stopped_at__gte=since)
            .order_by("-stopped_at").first()
        )
        if recent is None:
            raise NotFound("You have no session on this charger.")
        return _purchase_id(recent)
    reason = ""
    command = stop_command(charge_point, session)
    if command is None:
        reason = "no usable transaction id"
    else:
        action, payload = command
        try:
            answer = _command(charge_point, action, payload)
        except ServiceError as exc:
            if exc.code == "commands_unavailable":
                raise
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


def session_running_amount(session: ChargeSession) -> Decimal:
    try:
        from billing.selectors import session_running_cost
    except ImportError:
        return Decimal("0.00")
    return session_running_cost(session=session)


def charging_event_data(session: ChargeSession) -> dict:
    """{energy (kWh), waitingTime (minutes), amount (money so far)} for one active session."""
    return {
        "energy": (Decimal(session.energy_wh) / 1000).quantize(Decimal("0.001")),
        "waitingTime": session_waiting_minutes(session),
        "amount": session_running_amount(session),
    }


def charging_events_emit() -> int:
    """Send a CHARGING event to every driver with an active session; answers how many."""
    from accounts.events import CHARGING, emit

    sent = 0
    for session in ChargeSession.objects.filter(status=ChargeSession.Status.ACTIVE, user__isnull=False).select_related("charge_point"):
        try:
            emit(session.user_id, CHARGING, charging_event_data(session))
            sent += 1
        except Exception:  # one broken session must not silence everyone else's events
            logger.exception("CHARGING event for session %s failed", session.pk)
    return sent
