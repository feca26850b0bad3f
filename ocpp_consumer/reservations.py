"""Reserving a connector and cancelling the reservation, for either protocol.

The one place that sends ReserveNow and CancelReservation for a
chargepoints.ConnectorReservation. The request is built in OCPP 1.6 terms; the command bus
translates it for a 2.0.1 station (ReserveNow with id, idToken, evseId). The reservation row
is written first (its pk is the reservationId) and then records what the charger answered,
also when the command fails; the bus's error is raised again for the caller to map.
"""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.errors import Conflict, InvalidRequest
from chargepoints import reservations
from chargepoints.models import ChargePoint, Connector, ConnectorReservation
from ocpp_consumer import commands
from ocpp_consumer.command_errors import CallErrorReceived, CommandError, CommandTimeout, InvalidPayload
from ocpp_consumer.remote_control import id_tag_check


def _wire_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reserve_now_payload(*, reservation: ConnectorReservation) -> dict:
    """ReserveNow in OCPP 1.6 terms (translated by the bus for a 2.0.1 station)."""
    return {
        "connectorId": reservation.connector.connector_id,
        "expiryDate": _wire_time(reservation.expires_at),
        "idTag": reservation.id_tag,
        "reservationId": reservation.pk,
    }


def _outcome_word(error: CommandError) -> str:
    if isinstance(error, CommandTimeout):
        return "Timeout"
    if isinstance(error, CallErrorReceived):
        return "CallError"
    return "NotSent"


def reservation_add(
    *, charge_point: ChargePoint, connector: Connector, id_tag: str, expires_at: datetime, source: str = ""
) -> ConnectorReservation:
    """A reservation of `connector` for `id_tag` until `expires_at`, not sent yet.
    InvalidRequest for a tag the charger's protocol cannot carry; Conflict when the
    connector already has a live reservation."""
    try:
        id_tag_check(charge_point=charge_point, id_tag=id_tag)
    except InvalidPayload as error:
        raise InvalidRequest(str(error), code="invalid_id_tag") from None
    return reservations.connector_reservation_add(
        connector=connector, id_tag=id_tag, expires_at=expires_at, source=source
    )


def reserve_now_send(*, reservation: ConnectorReservation, timeout: float | None = None) -> dict:
    """Send ReserveNow for `reservation` and record the answer on it (accepted or refused).
    A command error is recorded too (refused as NotSent or CallError; still requested on
    Timeout, since the charger may hold it) and raised again."""
    try:
        answer = commands.send(
            reservation.charge_point.identity,
            "ReserveNow",
            reserve_now_payload(reservation=reservation),
            timeout=timeout,
        )
    except CommandError as error:
        reservations.connector_reservation_answered(reservation_id=reservation.pk, charger_status=_outcome_word(error))
        raise
    reservations.connector_reservation_answered(reservation_id=reservation.pk, charger_status=answer.get("status", ""))
    return answer


def cancel_reservation_send(*, reservation: ConnectorReservation, timeout: float | None = None) -> dict:
    """Ask the charger to drop the reservation: cancelled once it answers Accepted, or
    Rejected (it no longer held it). Conflict for one that is no longer live; a command
    error leaves the reservation as it was."""
    if not reservation.is_live:
        raise Conflict(f"Reservation {reservation.pk} is {reservation.status}, not live.", code="reservation_not_live")
    answer = commands.send(
        reservation.charge_point.identity, "CancelReservation", {"reservationId": reservation.pk}, timeout=timeout
    )
    reservations.connector_reservation_cancelled(reservation_id=reservation.pk, charger_status=answer.get("status", ""))
    return answer
