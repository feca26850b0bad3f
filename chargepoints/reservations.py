"""Connector reservations (OCPP ReserveNow / CancelReservation) as records.

A reservation keeps one connector for one id token until it expires. This module owns its
life: added before ReserveNow is sent (its pk is the reservationId), then accepted or
refused by the charger's answer, cancelled, removed or expired (our beat job, or a 2.0.1
ReservationStatusUpdate), or used by the session that starts on it. The commands
themselves are sent by ocpp_consumer.reservations; a session start asks `start_admission`
whether the connector lets this token start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.errors import Conflict, InvalidRequest
from chargepoints.models import ChargePoint, ChargePointEvent, Connector, ConnectorReservation, IdToken

Status = ConnectorReservation.Status
# ReserveNow answers meaning the charger holds the connector.
HELD = "Accepted"
# Answers to CancelReservation after which the charger holds nothing (Rejected: it had no
# such reservation any more).
GONE = ("Accepted", "Rejected")
# OCPP 2.0.1 ReservationStatusUpdate -> our status.
UPDATE_STATUS = {"Expired": Status.EXPIRED, "Removed": Status.REMOVED}


def live_reservations() -> QuerySet[ConnectorReservation]:
    return ConnectorReservation.objects.filter(status__in=ConnectorReservation.LIVE)


@transaction.atomic
def connector_reservation_add(
    *, connector: Connector, id_tag: str, expires_at: datetime, source: str = "", now: datetime | None = None
) -> ConnectorReservation:
    """A new reservation, still to be sent. Conflict when the connector already has a live
    one; InvalidRequest for an expiry that is not in the future."""
    now = now or timezone.now()
    if expires_at <= now:
        raise InvalidRequest("The expiry must be in the future.", code="expiry_in_past")
    if not id_tag or len(id_tag) > 36:
        raise InvalidRequest("An id tag has 1 to 36 characters.", code="invalid_id_tag")
    try:
        with transaction.atomic():
            return ConnectorReservation.objects.create(
                charge_point_id=connector.charge_point_id,
                connector=connector,
                id_tag=id_tag,
                id_token=IdToken.objects.filter(uid=id_tag).first(),
                expires_at=expires_at,
                source=source[:30],
            )
    except IntegrityError:
        raise Conflict(
            f"Connector {connector.connector_id} already has a live reservation; cancel it first.",
            code="connector_reserved",
        ) from None


def _end(reservation_id: int, *, status: str, charger_status: str, only_live: bool = True) -> ConnectorReservation:
    """Set the outcome; a reservation already ended keeps its first outcome (twice is once)."""
    rows = ConnectorReservation.objects.filter(pk=reservation_id)
    if only_live:
        rows = rows.filter(status__in=ConnectorReservation.LIVE)
    ended_at = None if status in ConnectorReservation.LIVE else timezone.now()
    rows.update(status=status, charger_status=charger_status[:20], ended_at=ended_at, updated_at=timezone.now())
    return ConnectorReservation.objects.get(pk=reservation_id)


@transaction.atomic
def connector_reservation_answered(*, reservation_id: int, charger_status: str) -> ConnectorReservation:
    """The charger's answer to ReserveNow (Accepted, Occupied, Faulted, Unavailable,
    Rejected), or what became of the request (NotSent). "Timeout" leaves it requested: the
    charger may hold it; it expires with its time."""
    if charger_status == "Timeout":
        return _end(reservation_id, status=Status.REQUESTED, charger_status=charger_status)
    status = Status.ACCEPTED if charger_status == HELD else Status.REFUSED
    return _end(reservation_id, status=status, charger_status=charger_status)


@transaction.atomic
def connector_reservation_cancelled(*, reservation_id: int, charger_status: str) -> ConnectorReservation:
    """The charger's answer to CancelReservation: Accepted (cancelled) or Rejected (it held
    no such reservation): either way the connector is no longer kept."""
    if charger_status not in GONE:
        raise InvalidRequest(f"Not a CancelReservation answer: {charger_status!r}")
    return _end(reservation_id, status=Status.CANCELLED, charger_status=charger_status)


@transaction.atomic
def connector_reservation_status_update(
    *, charge_point_id: int, reservation_id: int, update_status: str
) -> ConnectorReservation | None:
    """An OCPP 2.0.1 ReservationStatusUpdate: the station let the reservation expire or
    removed it. One we do not know on this charger is noted for the operator (None)."""
    known = ConnectorReservation.objects.filter(pk=reservation_id, charge_point_id=charge_point_id).exists()
    if not known or update_status not in UPDATE_STATUS:
        ChargePointEvent.objects.create(
            charge_point_id=charge_point_id,
            kind="reservation_unknown",
            severity=ChargePointEvent.Severity.WARNING,
            message=f"ReservationStatusUpdate {update_status} for reservation {reservation_id}, which we do not know.",
            payload={"reservationId": reservation_id, "reservationUpdateStatus": update_status},
        )
        return None
    return _end(reservation_id, status=UPDATE_STATUS[update_status], charger_status=update_status)


@transaction.atomic
def connector_reservations_expire(*, now: datetime | None = None) -> int:
    """Live reservations past their expiry become expired (the beat job). A conditional
    update: running it twice, or beside a start that uses one, changes each row once."""
    now = now or timezone.now()
    return live_reservations().filter(expires_at__lte=now).update(status=Status.EXPIRED, ended_at=now, updated_at=now)


# --- a session starting on a reserved connector -------------------------------------------


@dataclass(frozen=True)
class Admission:
    """Whether a token may start on a connector as far as reservations go, and the
    reservation it starts on (None: the connector was not reserved)."""

    admitted: bool
    reservation: ConnectorReservation | None = None


def _holds(reservation: ConnectorReservation, id_tag: str) -> bool:
    """The token it was made for, or a card of the group whose parent tag it was made for."""
    if reservation.id_tag == id_tag:
        return True
    return IdToken.objects.filter(uid=id_tag, group_uid=reservation.id_tag).exclude(group_uid="").exists()


def start_admission(*, connector: Connector, id_tag: str, at: datetime, reservation_id: int | None = None) -> Admission:
    """A live, unexpired reservation of the connector (or the one the charger names by
    `reservation_id`, on the same charger) admits only its own token; a connector without
    one admits anyone."""
    wanted = Q(connector=connector)
    if reservation_id:
        wanted |= Q(pk=reservation_id, charge_point_id=connector.charge_point_id)
    live = live_reservations().filter(expires_at__gt=at).select_for_update()
    reservation = live.filter(wanted).order_by("-created_at").first()
    if reservation is None:
        return Admission(admitted=True)
    return Admission(admitted=_holds(reservation, id_tag), reservation=reservation)


def connector_reservation_use(*, reservation: ConnectorReservation) -> None:
    """The session that started on it took it (inside the start's transaction)."""
    ConnectorReservation.objects.filter(pk=reservation.pk, status__in=ConnectorReservation.LIVE).update(
        status=Status.USED, ended_at=timezone.now(), updated_at=timezone.now()
    )


# --- reads -------------------------------------------------------------------------------


def connector_reservation_list(
    *,
    charge_points: QuerySet[ChargePoint],
    charge_point: str | None = None,
    status: str | None = None,
    expires_after: datetime | None = None,
    expires_before: datetime | None = None,
) -> QuerySet[ConnectorReservation]:
    rows = ConnectorReservation.objects.select_related("charge_point", "connector").filter(
        charge_point__in=charge_points
    )
    if charge_point:
        rows = rows.filter(charge_point__identity=charge_point)
    if status:
        rows = rows.filter(status=status)
    if expires_after:
        rows = rows.filter(expires_at__gte=expires_after)
    if expires_before:
        rows = rows.filter(expires_at__lt=expires_before)
    return rows
