"""Reads of charge sessions."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from accounts.models import User
from chargepoints.models import ChargePoint, ConnectorStatus, IdToken
from sessions_app.models import ChargeSession, ChargingState, ChargingStateChange, MeterSample


def driver_of_operator(*, operator_id: int, user_ref: str) -> Q:
    """`user_ref` (of the outer query) is one of the operator's drivers: charged at its
    chargers or holds one of its cards (drivers are shared by all operators). Evaluated per
    outer row, so a page of wallets checks only its own rows."""
    chargers = ChargePoint.objects.filter(site__operator_id=operator_id).values("id")
    # charge_point IN (...) rather than a join up to the site: PostgreSQL hashes this
    # EXISTS over all of the operator's sessions either way, and this one skips the joins.
    charged_here = ChargeSession.objects.filter(user_id=OuterRef(user_ref), charge_point_id__in=chargers)
    holds_card = IdToken.objects.filter(user_id=OuterRef(user_ref), operator_id=operator_id)
    return Q(Exists(charged_here)) | Q(Exists(holds_card))


def drivers_of_operator(*, operator_id: int) -> QuerySet[User]:
    return User.objects.filter(is_staff=False, phone__isnull=False).filter(
        driver_of_operator(operator_id=operator_id, user_ref="pk")
    )


def charge_session_get(*, session_id: int) -> ChargeSession | None:
    return ChargeSession.objects.select_related("charge_point", "connector").filter(pk=session_id).first()


def charge_session_get_by_transaction(*, identity: str, transaction_id: str | int) -> ChargeSession | None:
    return (
        ChargeSession.objects.select_related("charge_point", "connector")
        .filter(charge_point__identity=identity, transaction_id=str(transaction_id))
        .first()
    )


def charge_session_list_for_connector(*, identity: str, connector_id: int) -> QuerySet[ChargeSession]:
    return ChargeSession.objects.filter(charge_point__identity=identity, connector__connector_id=connector_id)


def charge_session_get_active(*, identity: str, connector_id: int) -> ChargeSession | None:
    return (
        charge_session_list_for_connector(identity=identity, connector_id=connector_id)
        .filter(status=ChargeSession.Status.ACTIVE)
        .first()
    )


def charge_session_state_timeline(*, session_id: int) -> QuerySet[ChargingStateChange]:
    return ChargingStateChange.objects.filter(session_id=session_id).order_by("at", "id")


def meter_sample_list(*, session_id: int, measurand: str | None = None) -> QuerySet[MeterSample]:
    qs = MeterSample.objects.filter(session_id=session_id)
    if measurand is not None:
        qs = qs.filter(measurand=measurand)
    return qs.order_by("sampled_at", "id")


# --- the status a connector shows -------------------------------------------------------------

# An OCPP 2.0.1 connector reports only its availability (Occupied while a car is plugged in);
# what it does comes from the active session's chargingState (TransactionEvent). Shown as
# the OCPP 1.6 status that says the same, so 1.6 and 2.0.1 connectors count and read alike.
CHARGING_STATE_DISPLAY = {
    ChargingState.CHARGING: ConnectorStatus.CHARGING,
    ChargingState.SUSPENDED_EV: ConnectorStatus.SUSPENDED_EV,
    ChargingState.SUSPENDED_EVSE: ConnectorStatus.SUSPENDED_EVSE,
    ChargingState.EV_CONNECTED: ConnectorStatus.PREPARING,
}
CHARGING_DISPLAY_STATUSES = [ConnectorStatus.CHARGING, ConnectorStatus.SUSPENDED_EV, ConnectorStatus.SUSPENDED_EVSE]


def connector_display_status(*, status: str, charging_state: str | None) -> str:
    """The status to show for a connector given its active session's charging state (None
    or "" without one)."""
    if status == ConnectorStatus.OCCUPIED and charging_state in CHARGING_STATE_DISPLAY:
        return CHARGING_STATE_DISPLAY[charging_state]
    return status


def active_charging_state(connector_ref: str = "pk") -> Subquery:
    """The charging state of the active session on the connector `connector_ref` names (of
    the outer query), for annotations."""
    return Subquery(
        ChargeSession.objects.filter(connector_id=OuterRef(connector_ref), status=ChargeSession.Status.ACTIVE).values(
            "charging_state"
        )[:1]
    )


def connector_is_charging() -> Q:
    """A Connector query's row shows a charging status: a 1.6 connector by its status, a
    2.0.1 one (Occupied) by its active session's charging state."""
    charging_session = ChargeSession.objects.filter(
        connector_id=OuterRef("pk"),
        status=ChargeSession.Status.ACTIVE,
        charging_state__in=[s for s, shown in CHARGING_STATE_DISPLAY.items() if shown in CHARGING_DISPLAY_STATUSES],
    )
    return Q(status__in=CHARGING_DISPLAY_STATUSES) | (Q(status=ConnectorStatus.OCCUPIED) & Q(Exists(charging_session)))
