"""A session starting on a reserved connector (OCPP 1.6 StartTransaction, 2.0.1
TransactionEvent): the reservation admits only the token it was made for, and the session
that starts on it uses it up.

A token the reservation does not admit is answered with `refused_status` (1.6 has no
better word than Invalid; 2.0.1 says NotAtThisTime), so the charger stops the transaction
and the reservation stays for its driver.
"""

from __future__ import annotations

from datetime import datetime

from chargepoints.models import Connector
from chargepoints.reservations import connector_reservation_use, start_admission
from sessions_app.models import ChargeSession

REFUSED_16 = "Invalid"
REFUSED_201 = "NotAtThisTime"


def reservation_check(
    *, connector: Connector, id_tag: str, info: dict, at: datetime, reservation_id: int | None, refused_status: str
):
    """The reservation the start is made on, or None; `info` (the IdTagInfo / IdTokenInfo to
    answer) is changed to `refused_status` when the connector is kept for another token."""
    admission = start_admission(connector=connector, id_tag=id_tag, at=at, reservation_id=reservation_id)
    if not admission.admitted and info.get("status") == "Accepted":
        info["status"] = refused_status
    return admission.reservation if admission.admitted else None


def reservation_link(*, session: ChargeSession, reservation) -> None:
    """An authorised session took the reservation: it is used, and the session names it."""
    if reservation is None or session.connector_reservation_id is not None:
        return
    connector_reservation_use(reservation=reservation)
    session.connector_reservation = reservation
    ChargeSession.objects.filter(pk=session.pk).update(connector_reservation=reservation)
