"""Reads of the operator APIs."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from chargepoints.models import ChargePoint, Connector, ConnectorStatus
from sessions_app.models import ChargeSession

from .access import charge_points_of

# OCPP.Core reports a connector's status as a number (its ConnectorStatus enum); every
# finer OCPP status that means "a car is there or about to be" counts as Occupied.
OCPPCORE_UNDEFINED = 0
OCPPCORE_STATUS = {
    ConnectorStatus.AVAILABLE: 1,
    ConnectorStatus.PREPARING: 2,
    ConnectorStatus.CHARGING: 2,
    ConnectorStatus.SUSPENDED_EVSE: 2,
    ConnectorStatus.SUSPENDED_EV: 2,
    ConnectorStatus.FINISHING: 2,
    ConnectorStatus.RESERVED: 2,
    ConnectorStatus.OCCUPIED: 2,
    ConnectorStatus.UNAVAILABLE: 3,
    ConnectorStatus.FAULTED: 4,
}


def ocppcore_status_code(status: str) -> int:
    return OCPPCORE_STATUS.get(status, OCPPCORE_UNDEFINED)


def online_charge_points(user) -> QuerySet[ChargePoint]:
    return (
        charge_points_of(user)
        .filter(is_online=True)
        .prefetch_related(Prefetch("connectors", queryset=Connector.objects.order_by("connector_id")))
    )


def open_session(connector: Connector) -> ChargeSession | None:
    """The last transaction on this connector that has not stopped."""
    return (
        ChargeSession.objects.filter(connector=connector, status=ChargeSession.Status.ACTIVE)
        .exclude(transaction_id="")
        .order_by("-started_at")
        .first()
    )
