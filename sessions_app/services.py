"""The charge-session state machine, driven by OCPP 1.6 (Start/StopTransaction,
MeterValues, StatusNotification) and by the server (closing a session a charger lost).

Charging state (the timeline billing prices idle time from) follows the 1.6 connector
status of the session's connector:

    Preparing                  -> EVConnected   (plugged in, not drawing yet)
    Charging                   -> Charging
    SuspendedEV                -> SuspendedEV   (the car stopped drawing, e.g. full)
    SuspendedEVSE, Unavailable,
    Faulted                    -> SuspendedEVSE (the charger is not delivering)
    Finishing, Available       -> Idle          (charging over, car still there / cable out)
    Reserved                   -> (no change)

Each change writes a ChargingStateChange row at the time the charger reported it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from chargepoints.fanout import publish_state
from chargepoints.models import ChargePoint, ChargePointEvent, Connector, ConnectorReservation, IdToken
from chargepoints.selectors import id_tag_info, id_tag_info_with_token
from chargepoints.services import (
    charge_point_event_add,
    connector_ensure,
    connector_state,
    connector_update_status,
    connector_update_status_many,
    connectors_with_history_flag,
    rows_insert,
    rows_update,
)
from sessions_app.meter import ENERGY_REGISTER, POWER, SOC, plausible_time, readings_v16
from sessions_app.models import (
    METER_SAMPLE_FIELDS,
    ChargeSession,
    ChargingState,
    ChargingStateChange,
    MeterSample,
    SessionAnomaly,
    StopReason,
)
from sessions_app.reservations import REFUSED_16, reservation_check, reservation_link
from sessions_app.selectors import charge_session_state_timeline
from sessions_app.signals import announce_load_change, session_completed
from sessions_app.timeline import charging_seconds

logger = logging.getLogger(__name__)

STATUS_TO_CHARGING_STATE = {
    "Preparing": ChargingState.EV_CONNECTED,
    "Charging": ChargingState.CHARGING,
    "SuspendedEV": ChargingState.SUSPENDED_EV,
    "SuspendedEVSE": ChargingState.SUSPENDED_EVSE,
    "Unavailable": ChargingState.SUSPENDED_EVSE,
    "Faulted": ChargingState.SUSPENDED_EVSE,
    "Finishing": ChargingState.IDLE,
    "Available": ChargingState.IDLE,
}


# --- after-commit side effects ---------------------------------------------------------


def _request_purchases(session_ids: list[int]) -> None:
    # A 1.6 StopTransaction's answer carries no price: nothing here waits for it.
    session_completed.send(sender=ChargeSession, session_ids=session_ids, answer_waits=False)


def _after_stop(*session_ids: int) -> None:
    ids = list(session_ids)
    if ids:
        transaction.on_commit(lambda: _request_purchases(ids), robust=True)


def session_publish(connector: Connector, identity: str, session: ChargeSession | None) -> None:
    extra = {}
    if session is not None:
        extra = {
            "session_id": session.pk,
            "transaction_id": session.transaction_id,
            "charging_state": session.charging_state,
            "session_status": session.status,
        }
    state = connector_state(connector, identity, **extra)
    transaction.on_commit(lambda: publish_state(state))


# --- charging state ----------------------------------------------------------------------


def _set_charging_state(session: ChargeSession, state: str, at: datetime) -> bool:
    if session.charging_state == state:
        return False
    session.charging_state = state
    ChargingStateChange.objects.create(session=session, at=at, charging_state=state)
    return True


@transaction.atomic
def charge_session_update_charging_state(
    *,
    session_id: int,
    charging_state: str | None = None,
    at: datetime | None = None,
    soc_percent: int | None = None,
    meter_wh: int | None = None,
    power_w: int | None = None,
) -> ChargeSession:
    """Update a session's live readings (the seed's updateChargingState: charge percentage
    and energy) and its charging state, recording the change on the timeline."""
    session = ChargeSession.objects.select_for_update().select_related("connector", "charge_point").get(pk=session_id)
    at = at or timezone.now()
    if charging_state is not None:
        _set_charging_state(session, charging_state, at)
    if soc_percent is not None:
        session.soc_percent = soc_percent
        if session.soc_start_percent is None:
            session.soc_start_percent = soc_percent
    if meter_wh is not None:
        session.meter_last_wh, session.meter_last_at = meter_wh, at
    if power_w is not None:
        session.power_w = power_w
    session.save(
        update_fields=[
            "charging_state",
            "soc_percent",
            "soc_start_percent",
            "meter_last_wh",
            "meter_last_at",
            "power_w",
            "updated_at",
        ]
    )
    session_publish(session.connector, session.charge_point.identity, session)
    return session


# --- StatusNotification ------------------------------------------------------------------


@transaction.atomic
def status_notification_apply(
    *,
    charge_point_id: int,
    connector_id: int,
    status: str,
    error_code: str = "NoError",
    info: str = "",
    vendor_error_code: str = "",
    timestamp: datetime | None = None,
) -> None:
    """A connector (or, for connector 0, the charger) changed status; an active session on
    the connector follows with its charging state."""
    at = timestamp or timezone.now()
    connector = connector_update_status(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        status=status,
        error_code=error_code,
        info=info,
        vendor_error_code=vendor_error_code,
        at=at,
    )
    if connector is None:
        return
    state = STATUS_TO_CHARGING_STATE.get(status)
    session = (
        ChargeSession.objects.select_for_update()
        .filter(connector=connector, status=ChargeSession.Status.ACTIVE)
        .first()
    )
    if session is None or state is None:
        return
    if status == "Available" and _rebooted_since(session):
        # The charger booted after the session began and now calls the connector free:
        # it lost the transaction. Close it now rather than leave the card blocked.
        _close_orphan(session, why="rebooted")
        return
    if _set_charging_state(session, state, at):
        if state != ChargingState.CHARGING:
            session.power_w = 0
        session.save(update_fields=["charging_state", "power_w", "updated_at"])
        identity = ChargePoint.objects.values_list("identity", flat=True).get(pk=charge_point_id)
        session_publish(connector, identity, session)
        announce_load_change(charge_point_id)


def status_notification_apply_many(*, items: list[dict]) -> None:
    """status_notification_apply for many StatusNotifications (of many chargers) at once,
    with the same outcome as one by one in order. The common case (connector 0, or no
    active session on the connector whose charging state the status changes) is written
    set-based by connector_update_status_many: one SELECT of the connectors, one of their
    active sessions, one INSERT of status history, one UPDATE. An item whose connector has
    an active session that the status affects (a charging state change, or Available: the
    reboot orphan check) goes through status_notification_apply, with every other item of
    the same connector in the batch, in order.

    Each item: charge_point_id, connector_id, status, and optionally error_code, info,
    vendor_error_code, timestamp and identity (the charger's, saves a query)."""
    if not items:
        return
    with transaction.atomic(savepoint=False):
        keys = {(item["charge_point_id"], item["connector_id"]) for item in items if item["connector_id"]}
        connectors: dict = {}
        if keys:
            connectors = {
                (c.charge_point_id, c.connector_id): c
                for c in connectors_with_history_flag(charge_point_ids={cp for cp, _ in keys})
                if (c.charge_point_id, c.connector_id) in keys
            }
        active = (
            {
                s.connector_id: s
                for s in ChargeSession.objects.filter(
                    connector_id__in=[c.pk for c in connectors.values()], status=ChargeSession.Status.ACTIVE
                )
            }
            if connectors
            else {}
        )
        one_by_one: set[tuple[int, int]] = set()
        for item in items:
            key = (item["charge_point_id"], item["connector_id"])
            connector = connectors.get(key)
            session = active.get(connector.pk) if connector is not None else None
            state = STATUS_TO_CHARGING_STATE.get(item["status"])
            if session is not None and state is not None:
                if item["status"] == "Available" or state != session.charging_state:
                    one_by_one.add(key)
        fast = []
        for item in items:
            key = (item["charge_point_id"], item["connector_id"])
            if key in one_by_one:
                continue
            fast.append(
                {
                    "charge_point_id": item["charge_point_id"],
                    "connector_id": item["connector_id"],
                    "connector": connectors.get(key),
                    "status": item["status"],
                    "error_code": item.get("error_code", "NoError"),
                    "info": item.get("info", ""),
                    "vendor_error_code": item.get("vendor_error_code", ""),
                    "at": item.get("timestamp"),
                    "identity": item.get("identity"),
                }
            )
        connector_update_status_many(items=fast)
        for item in items:
            if (item["charge_point_id"], item["connector_id"]) in one_by_one:
                status_notification_apply(**{k: v for k, v in item.items() if k != "identity"})


# --- Start / Stop ------------------------------------------------------------------------


def session_mark_closed(
    session: ChargeSession,
    *,
    at: datetime,
    reason: str,
    closed_by: str,
    meter_stop_wh: int | None,
    stop_id_tag: str = "",
) -> None:
    """Set a session's fields for its close, in memory: its charging time is the caller's
    (it reads the timeline), and so are the save and the after-commit work (_close)."""
    session.status = ChargeSession.Status.COMPLETED
    session.stopped_at = max(at, session.started_at)
    session.stop_reason = reason
    session.closed_by = closed_by
    session.stop_id_tag = stop_id_tag[:36]
    if meter_stop_wh is not None:
        session.meter_stop_wh = meter_stop_wh
        session.meter_last_wh = meter_stop_wh
        session.meter_last_at = session.stopped_at
    session.power_w = 0


def session_after_close(*sessions: ChargeSession) -> None:
    """After commit: each session is priced, and the sites' load re-shared."""
    _after_stop(*(session.pk for session in sessions))
    announce_load_change(*(session.charge_point_id for session in sessions))


def _close(session: ChargeSession, **close) -> None:
    """Close a session now: session_mark_closed(**close), its charging time, the save and
    the after-commit work."""
    session_mark_closed(session, **close)
    session.time_spent_charging_s = _seconds_charging(session)
    session.save()
    session_after_close(session)


def _seconds_charging(session: ChargeSession) -> int:
    states = charge_session_state_timeline(session_id=session.pk).values_list("at", "charging_state")
    return charging_seconds(states, started_at=session.started_at, ended_at=session.stopped_at)


def connectors_for_start(*, keys: set[tuple[int, int]]) -> dict[tuple[int, int], Connector]:
    """The connectors StartTransactions name, by (charge point pk, connector id), each with
    its charger (last boot, identity) and whether it has a live reservation (`reserved`),
    in one query. Connectors not yet known are absent."""
    if not keys:
        return {}
    found = (
        Connector.objects.select_related("charge_point")
        .annotate(
            reserved=Exists(
                ConnectorReservation.objects.filter(connector_id=OuterRef("pk"), status__in=ConnectorReservation.LIVE)
            )
        )
        .filter(charge_point_id__in={cp for cp, _ in keys}, connector_id__in={c for _, c in keys})
    )
    return {(c.charge_point_id, c.connector_id): c for c in found if (c.charge_point_id, c.connector_id) in keys}


def _connector_for_start(*, charge_point_id: int, connector_id: int) -> Connector:
    """connectors_for_start of one; created the first time it is mentioned, as
    connector_ensure does."""
    connector = connectors_for_start(keys={(charge_point_id, connector_id)}).get((charge_point_id, connector_id))
    if connector is None:
        connector = connector_ensure(charge_point_id=charge_point_id, connector_id=connector_id)
        connector.reserved = True  # (not known: start_admission looks)
    return connector


def session_new(
    *, connector: Connector, token: IdToken | None, id_tag: str, at: datetime, meter_wh: int, info: dict
) -> ChargeSession:
    """A 1.6 StartTransaction's session, not saved yet (charge_session_start saves one,
    charge_session_start_many inserts many together)."""
    return ChargeSession(
        charge_point_id=connector.charge_point_id,
        connector=connector,
        id_token=token,
        id_tag=id_tag[:36],
        user=token.user if token else None,
        started_at=at,
        meter_start_wh=meter_wh,
        meter_last_wh=meter_wh,
        meter_last_at=at,
        charging_state=initial_charging_state(connector),
        authorization=info["status"],
    )


def initial_charging_state(connector: Connector) -> str:
    """A new session's charging state, from its connector's status."""
    state = STATUS_TO_CHARGING_STATE.get(connector.status)
    if state not in {ChargingState.CHARGING, ChargingState.SUSPENDED_EV, ChargingState.SUSPENDED_EVSE}:
        state = ChargingState.EV_CONNECTED
    return state


@transaction.atomic
def charge_session_start(
    *,
    charge_point_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    timestamp: datetime,
    reservation_id: int | None = None,
) -> tuple[ChargeSession, dict]:
    """Open a session for a StartTransaction and issue its transaction id.

    The session is opened even for an idTag we do not accept (OCPP 1.6 section 5.1: the
    charger has already started; the IdTagInfo tells it to stop). A retried identical
    request (same connector and start time) returns the session it opened before.

    Issue 20: ~10 statements instead of ~16 (the connector, its charger and whether it has
    a live reservation in one query; the card and its IdTagInfo in one; the retry lookup
    and the connector's active session in one; no reservation query without a reservation).
    """
    connector = _connector_for_start(charge_point_id=charge_point_id, connector_id=connector_id)
    charge_point = connector.charge_point
    info, token = id_tag_info_with_token(id_tag=id_tag)
    sent = timestamp
    timestamp, implausible = plausible_time(sent=sent, received_at=timezone.now(), not_before=charge_point.last_boot_at)
    # The retry lookup and the connector's active session (a lost StopTransaction), at once.
    mine = list(
        ChargeSession.objects.select_for_update()
        .filter(connector=connector)
        .filter(Q(started_at=sent) | Q(status=ChargeSession.Status.ACTIVE))
    )
    existing = next((s for s in mine if s.started_at == sent), None) or (
        implausible
        and ChargeSession.objects.filter(
            connector=connector,
            anomalies__kind=SessionAnomaly.Kind.IMPLAUSIBLE_TIME,
            anomalies__detail__sent=sent.isoformat(),
            anomalies__detail__field="start",
        ).first()
    )
    if existing:
        return existing, info
    reservation = None
    if connector.reserved or reservation_id:
        reservation = reservation_check(
            connector=connector,
            id_tag=id_tag,
            info=info,
            at=timestamp,
            reservation_id=reservation_id,
            refused_status=REFUSED_16,
        )
    if info["status"] == "Accepted":
        busy_elsewhere = (
            ChargeSession.objects.filter(id_tag=id_tag, status=ChargeSession.Status.ACTIVE)
            .exclude(connector=connector)
            .exists()
        )
        if busy_elsewhere:
            info["status"] = "ConcurrentTx"
    previous = next((s for s in mine if s.status == ChargeSession.Status.ACTIVE), None)
    if previous is not None:
        # The charger started again without stopping the old one (a lost StopTransaction).
        _close(
            previous,
            at=timestamp,
            reason=StopReason.OTHER,
            closed_by=ChargeSession.ClosedBy.SERVER,
            meter_stop_wh=previous.meter_last_wh,
        )
        SessionAnomaly.objects.create(
            session=previous, kind=SessionAnomaly.Kind.REPLACED, detail={"replaced_at": timestamp.isoformat()}
        )
    session = session_new(
        connector=connector, token=token, id_tag=id_tag, at=timestamp, meter_wh=meter_start_wh, info=info
    )
    try:
        with transaction.atomic():
            session.save(force_insert=True)
    except IntegrityError:  # the same start, committed by a concurrent connection
        return ChargeSession.objects.get(connector=connector, started_at=timestamp), info
    session.transaction_id = str(session.pk)
    session.save(update_fields=["transaction_id"])
    if info["status"] == "Accepted":
        reservation_link(session=session, reservation=reservation)
    ChargingStateChange.objects.create(session=session, at=timestamp, charging_state=session.charging_state)
    if implausible:
        _note_implausible_time(session, field="start", sent=sent, used=timestamp, why=implausible)
    if connector.meter_wh != meter_start_wh:
        Connector.objects.filter(pk=connector.pk).update(meter_wh=meter_start_wh)
        connector.meter_wh = meter_start_wh
    session_publish(connector, charge_point.identity, session)
    announce_load_change(charge_point_id)
    return session, info


@transaction.atomic
def charge_session_stop(
    *,
    charge_point_id: int,
    transaction_id: int | str,
    meter_stop_wh: int,
    timestamp: datetime,
    reason: str = "",
    id_tag: str = "",
    transaction_data: list[dict] | None = None,
) -> tuple[ChargeSession | None, dict | None]:
    """Close a session for a StopTransaction. Returns the session (None when unknown) and
    the IdTagInfo for the stopping idTag (None when the charger sent none).

    A stop for a transaction we do not know is accepted, so the charger can clear its
    queue, and kept as a ChargePointEvent for an operator. A repeated stop changes nothing.
    """
    info = id_tag_info(id_tag=id_tag) if id_tag else None
    session = (
        ChargeSession.objects.select_for_update()
        .select_related("connector")
        .filter(charge_point_id=charge_point_id, transaction_id=str(transaction_id))
        .first()
    )
    if session is None:
        charge_point_event_add(
            charge_point_id=charge_point_id,
            kind="stop_unknown_transaction",
            severity=ChargePointEvent.Severity.WARNING,
            message=f"StopTransaction for unknown transaction {transaction_id}",
            payload={
                "transactionId": transaction_id,
                "meterStop": meter_stop_wh,
                "timestamp": timestamp.isoformat(),
                "reason": reason,
                "idTag": id_tag,
                "transactionData": transaction_data or [],
            },
        )
        return None, info
    if session.status != ChargeSession.Status.ACTIVE:
        if session.closed_by == ChargeSession.ClosedBy.SERVER:
            _merge_late_stop(
                session,
                meter_stop_wh=meter_stop_wh,
                timestamp=timestamp,
                reason=reason,
                id_tag=id_tag,
                transaction_data=transaction_data,
            )
        return session, info
    sent = timestamp
    timestamp, implausible = plausible_time(sent=sent, received_at=timezone.now(), not_before=session.started_at)
    if implausible:
        _note_implausible_time(session, field="stop", sent=sent, used=timestamp, why=implausible)
    if transaction_data:
        meter_samples_store(session.charge_point_id, session.connector, session, transaction_data)
    # OCPP 1.6: a StopTransaction without a reason means Local.
    _close(
        session,
        at=timestamp,
        reason=reason or StopReason.LOCAL,
        closed_by=ChargeSession.ClosedBy.CHARGER,
        meter_stop_wh=meter_stop_wh,
        stop_id_tag=id_tag,
    )
    Connector.objects.filter(pk=session.connector_id).update(meter_wh=meter_stop_wh, power_w=0)
    session.connector.meter_wh, session.connector.power_w = meter_stop_wh, 0
    identity = ChargePoint.objects.values_list("identity", flat=True).get(pk=charge_point_id)
    session_publish(session.connector, identity, session)
    return session, info


@transaction.atomic
def charge_session_close_by_server(
    *,
    session_id: int,
    reason: str = StopReason.OTHER,
    closed_by: str = ChargeSession.ClosedBy.SERVER,
    at: datetime | None = None,
) -> ChargeSession:
    """Close a session the charger will never stop (lost, replaced, operator decision)."""
    session = ChargeSession.objects.select_for_update().select_related("connector", "charge_point").get(pk=session_id)
    if session.status != ChargeSession.Status.ACTIVE:
        return session
    _close(session, at=at or timezone.now(), reason=reason, closed_by=closed_by, meter_stop_wh=session.meter_last_wh)
    SessionAnomaly.objects.create(
        session=session, kind=SessionAnomaly.Kind.CLOSED_BY_SERVER, detail={"closed_by": closed_by, "reason": reason}
    )
    session_publish(session.connector, session.charge_point.identity, session)
    return session


# --- implausible timestamps ---------------------------------------------------------------


def _note_implausible_time(session: ChargeSession, *, field: str, sent: datetime, used: datetime, why: str) -> None:
    SessionAnomaly.objects.create(
        session=session,
        kind=SessionAnomaly.Kind.IMPLAUSIBLE_TIME,
        detail={"field": field, "sent": sent.isoformat(), "used": used.isoformat(), "why": why},
    )


# --- orphans: sessions the charger lost ------------------------------------------------------


def _rebooted_since(session: ChargeSession) -> bool:
    # Both on the server's clock: when we opened the session and when the charger booted.
    last_boot_at = ChargePoint.objects.values_list("last_boot_at", flat=True).get(pk=session.charge_point_id)
    return last_boot_at is not None and last_boot_at > session.created_at


def _close_orphan(session: ChargeSession, *, why: str) -> None:
    """Close a session its charger lost, at its last meter reading: nothing after it was
    measured, so nothing after it is billed. The anomaly tells the operator (and the portal)."""
    ended_at = session.meter_last_at or session.started_at
    reason = StopReason.REBOOT if why == "rebooted" else StopReason.OTHER
    _close(
        session,
        at=ended_at,
        reason=reason,
        closed_by=ChargeSession.ClosedBy.SERVER,
        meter_stop_wh=session.meter_last_wh,
    )
    SessionAnomaly.objects.create(
        session=session,
        kind=SessionAnomaly.Kind.CLOSED_BY_BACK_OFFICE,
        detail={
            "why": why,
            "closed_at": timezone.now().isoformat(),
            "stopped_at": session.stopped_at.isoformat(),
            "meter_stop_wh": session.meter_stop_wh,
        },
    )
    Connector.objects.filter(pk=session.connector_id).update(power_w=0)
    connector = Connector.objects.get(pk=session.connector_id)
    identity = ChargePoint.objects.values_list("identity", flat=True).get(pk=session.charge_point_id)
    session_publish(connector, identity, session)


def charge_session_orphans_close(*, now: datetime | None = None) -> list[int]:
    """The orphan sweep: close active sessions whose charger has been offline longer than
    SESSIONS_ORPHAN_OFFLINE_SECONDS, or rebooted since and reports the connector Available.
    Returns the ids closed. Each session is closed in its own transaction."""
    now = now or timezone.now()
    offline_since = now - timedelta(seconds=settings.SESSIONS_ORPHAN_OFFLINE_SECONDS)
    active = ChargeSession.objects.filter(status=ChargeSession.Status.ACTIVE)
    offline = active.filter(charge_point__is_online=False).filter(
        Q(charge_point__last_seen_at__lt=offline_since)
        | Q(charge_point__last_seen_at__isnull=True, created_at__lt=offline_since)
    )
    rebooted = active.filter(charge_point__last_boot_at__gt=F("created_at"), connector__status="Available")
    closed = []
    for why, candidates in (("offline", offline), ("rebooted", rebooted)):
        for session_id in candidates.values_list("pk", flat=True):
            if charge_session_close_orphan(session_id=session_id, why=why, offline_since=offline_since):
                closed.append(session_id)
    return closed


@transaction.atomic
def charge_session_close_orphan(*, session_id: int, why: str, offline_since: datetime | None = None) -> bool:
    """Close one orphan if it still is one (checked again under the lock)."""
    session = ChargeSession.objects.select_for_update().get(pk=session_id)
    if session.status != ChargeSession.Status.ACTIVE:
        return False
    if why == "offline":
        charge_point = ChargePoint.objects.get(pk=session.charge_point_id)
        if charge_point.is_online or (
            offline_since is not None
            and charge_point.last_seen_at is not None
            and charge_point.last_seen_at >= offline_since
        ):
            return False
    elif not _rebooted_since(session):
        return False
    _close_orphan(session, why=why)
    return True


def _merge_late_stop(
    session: ChargeSession,
    *,
    meter_stop_wh: int,
    timestamp: datetime,
    reason: str,
    id_tag: str,
    transaction_data: list[dict] | None,
) -> None:
    """The charger's own StopTransaction for a session the back office closed: its data is
    the truth, so it replaces ours and the session is priced again (billing re-prices an
    unpaid purchase). A paid one is flagged for the operator, never changed silently."""
    late = session.anomalies.filter(kind=SessionAnomaly.Kind.LATE_STOP).exists()
    if late:
        return  # a repeated late stop
    closed = {
        "stopped_at": session.stopped_at.isoformat(),
        "meter_stop_wh": session.meter_stop_wh,
        "stop_reason": session.stop_reason,
    }
    session.stopped_at = max(timestamp, session.started_at)
    if transaction_data:
        meter_samples_store(session.charge_point_id, session.connector, session, transaction_data)
    session.meter_stop_wh = session.meter_last_wh = meter_stop_wh
    session.meter_last_at = session.stopped_at
    session.stop_reason = reason or StopReason.LOCAL
    session.stop_id_tag = id_tag[:36]
    session.closed_by = ChargeSession.ClosedBy.CHARGER
    session.time_spent_charging_s = _seconds_charging(session)
    session.save()
    purchase_status = _purchase_status(session)
    SessionAnomaly.objects.create(
        session=session,
        kind=SessionAnomaly.Kind.LATE_STOP,
        detail={
            "closed_by_back_office": closed,
            "stopped_at": session.stopped_at.isoformat(),
            "meter_stop_wh": meter_stop_wh,
            "purchase_status": purchase_status or "",
        },
    )
    if purchase_status not in (None, "open"):
        charge_point_event_add(
            charge_point_id=session.charge_point_id,
            kind="late_stop_after_payment",
            severity=ChargePointEvent.Severity.WARNING,
            message=f"Transaction {session.transaction_id}: the charger's stop arrived after the session was "
            f"closed and its purchase is {purchase_status}; check the amount by hand.",
            payload={
                "sessionId": session.pk,
                "transactionId": session.transaction_id,
                **closed,
                "meterStop": meter_stop_wh,
                "timestamp": timestamp.isoformat(),
            },
        )
    _after_stop(session.pk)


def _purchase_status(session: ChargeSession) -> str | None:
    # Read through the reverse relation: the purchase is billing's; only its status matters here.
    try:
        return session.purchase.status
    except ObjectDoesNotExist:
        return None


# --- MeterValues --------------------------------------------------------------------------


def _readings(meter_value: list[dict]) -> tuple[list[tuple], dict]:
    """Flatten a meterValue list into sample tuples and the latest live readings
    (energy in Wh, power in W, SoC in %)."""
    samples = readings_v16(meter_value)
    live: dict = {}
    phase_power: dict[str, Decimal] = {}
    for at, measurand, phase, location, _context, value, unit in samples:
        scale = 1000 if unit in {"kWh", "kW"} else 1
        if measurand == ENERGY_REGISTER and not phase and (location or "Outlet") in {"Outlet", "Inlet"}:
            if "at" not in live or at >= live["at"]:  # the latest reading, whatever the frame's order
                live["meter_wh"], live["at"] = int(value * scale), at
        elif measurand == POWER:
            if phase:
                phase_power[phase] = value * scale
            else:
                live["power_w"] = int(value * scale)
        elif measurand == SOC:
            live["soc_percent"] = max(0, min(100, int(value)))
    if "power_w" not in live and phase_power:
        live["power_w"] = int(sum(v for p, v in phase_power.items() if p.startswith("L") and "-L" not in p))
    return samples, live


def meter_samples_store(
    charge_point_id: int,
    connector: Connector | None,
    session: ChargeSession | None,
    meter_value: list[dict],
    out: list[tuple] | None = None,
) -> dict:
    """Turn a frame's meterValue list into MeterSample rows (appended to `out`, which the
    caller inserts with the whole batch; inserted here when no list is given)."""
    samples, live = _readings(meter_value)
    connector_pk = connector.pk if connector is not None else None
    session_pk = session.pk if session is not None else None
    if session is not None and session.stopped_at is not None:
        # A replay after the stop: the frame journal keeps it; it is not the session's.
        samples = [sample for sample in samples if sample[0] <= session.stopped_at]
    rows = [
        (
            charge_point_id,
            connector_pk,
            session_pk,
            at,
            measurand[:50],
            phase[:10],
            location[:10],
            context[:30],
            value,
            unit[:10],
        )
        for at, measurand, phase, location, context, value, unit in samples
    ]
    if out is None:
        rows_insert(model=MeterSample, fields=METER_SAMPLE_FIELDS, rows=rows, ignore_conflicts=True)
    else:
        out += rows
    return live


def _apply_frame(frame: dict, connectors: dict, sessions_by_tx: dict, active: dict, samples: list[tuple]) -> None:
    charge_point_id, connector_id = frame["charge_point_id"], frame["connector_id"]
    connector = None
    if connector_id:
        connector = connectors.get((charge_point_id, connector_id))
        if connector is None:
            connector = connector_ensure(charge_point_id=charge_point_id, connector_id=connector_id)
            connectors[(charge_point_id, connector_id)] = connector
    session = None
    if frame.get("transaction_id") is not None:
        session = sessions_by_tx.get((charge_point_id, str(frame["transaction_id"])))
    if session is None and connector is not None:
        session = active.get(connector.pk)
    live = meter_samples_store(charge_point_id, connector, session, frame["meter_value"], samples)
    if not live:
        return
    if connector is not None:
        for field in ("meter_wh", "power_w", "soc_percent"):
            if field in live:
                setattr(connector, field, live[field])
        connector._live_changed = True
    if session is not None and session.status == ChargeSession.Status.ACTIVE:
        # An older reading (a replay, a frame overtaken by a newer one) never moves the
        # last reading back and is no anomaly: only a newer, lower one is.
        if "meter_wh" in live and (session.meter_last_at is None or live["at"] >= session.meter_last_at):
            if session.meter_last_wh is not None and live["meter_wh"] < session.meter_last_wh:
                SessionAnomaly.objects.create(
                    session=session,
                    kind=SessionAnomaly.Kind.METER_BACKWARDS,
                    detail={"previous_wh": session.meter_last_wh, "reported_wh": live["meter_wh"]},
                )
            session.meter_last_wh, session.meter_last_at = live["meter_wh"], live["at"]
        if "power_w" in live:
            session.power_w = live["power_w"]
        if "soc_percent" in live:
            session.soc_percent = live["soc_percent"]
            if session.soc_start_percent is None:
                session.soc_start_percent = live["soc_percent"]
        session._live_changed = True


def _connectors_update_live(connectors: list[Connector]) -> None:
    """Write the live readings of many connectors (one UPDATE on PostgreSQL)."""
    rows_update(model=Connector, fields=("meter_wh", "power_w", "soc_percent"), objects=connectors)


_SESSION_LIVE_FIELDS = ("meter_last_wh", "meter_last_at", "power_w", "soc_percent", "soc_start_percent")


def _sessions_update_live(sessions: list[ChargeSession]) -> None:
    """Write the live readings of many sessions: one UPDATE ... FROM (VALUES ...) on
    PostgreSQL (one UPDATE per session cost a quarter of the frames' group commit once
    every MeterValues frame belonged to a transaction, issue 20)."""
    rows_update(model=ChargeSession, fields=_SESSION_LIVE_FIELDS, objects=sessions, also={"updated_at": timezone.now()})


def meter_values_record_many(*, frames: list[dict]) -> None:
    """Store the MeterValues of many frames (from many chargers) in one transaction.

    Each frame: charge_point_id, identity, connector_id, transaction_id (or None) and
    meter_value (the frame's list, with the snake_case keys the
    `ocpp` package hands to handlers: sampled_value, measurand, ...). Samples go in with one INSERT; each
    connector and session touched gets one UPDATE with its latest readings.
    """
    # No savepoint (a round trip each way) inside the consumer's group commit: a failure
    # fails the batch, which the committer retries frame by frame.
    with transaction.atomic(savepoint=False):
        keys = {(f["charge_point_id"], f["connector_id"]) for f in frames if f["connector_id"]}
        connectors: dict = {}
        if keys:
            # By charge point (one indexed IN), filtered here: an OR of hundreds of
            # (charge point, connector) pairs costs more to build than to fetch.
            connectors = {
                (c.charge_point_id, c.connector_id): c
                for c in Connector.objects.filter(charge_point_id__in={cp for cp, _ in keys})
                if (c.charge_point_id, c.connector_id) in keys
            }
        tx_keys = {
            (f["charge_point_id"], str(f["transaction_id"])) for f in frames if f.get("transaction_id") is not None
        }
        # The sessions the frames name and the active ones of their connectors, in one query.
        wanted = Q()
        if tx_keys:
            wanted |= Q(charge_point_id__in={cp for cp, _ in tx_keys}, transaction_id__in={tx for _, tx in tx_keys})
        connector_pks = {c.pk for c in connectors.values()}
        if connector_pks:
            wanted |= Q(connector_id__in=connector_pks, status=ChargeSession.Status.ACTIVE)
        found = list(ChargeSession.objects.filter(wanted)) if wanted else []
        sessions_by_tx: dict = {
            (s.charge_point_id, s.transaction_id): s for s in found if (s.charge_point_id, s.transaction_id) in tx_keys
        }
        active = {
            s.connector_id: s
            for s in found
            if s.status == ChargeSession.Status.ACTIVE and s.connector_id in connector_pks
        }
        for session in active.values():
            sessions_by_tx.setdefault((session.charge_point_id, session.transaction_id), session)
        # (One query, so one object per row however it was found: updates cannot overwrite each other.)
        identities = {f["charge_point_id"]: f["identity"] for f in frames}
        samples: list[tuple] = []
        for frame in frames:
            _apply_frame(frame, connectors, sessions_by_tx, active, samples)
        rows_insert(model=MeterSample, fields=METER_SAMPLE_FIELDS, rows=samples, ignore_conflicts=True)
        _connectors_update_live([c for c in connectors.values() if getattr(c, "_live_changed", False)])
        sessions = {s.pk: s for s in sessions_by_tx.values() if getattr(s, "_live_changed", False)}
        _sessions_update_live(list(sessions.values()))
        by_connector = {s.connector_id: s for s in sessions.values()}
        for connector in connectors.values():
            if getattr(connector, "_live_changed", False):
                session_publish(
                    connector, identities.get(connector.charge_point_id, ""), by_connector.get(connector.pk)
                )


def meter_values_record(
    *, charge_point_id: int, identity: str, connector_id: int, transaction_id: int | str | None, meter_value: list[dict]
) -> None:
    meter_values_record_many(
        frames=[
            {
                "charge_point_id": charge_point_id,
                "identity": identity,
                "connector_id": connector_id,
                "transaction_id": transaction_id,
                "meter_value": meter_value,
            }
        ]
    )
