"""Reads behind the driver app: chargers ("devices") on the map, their state and prices,
the driver's profile and active device.

A seed "device" is one charge point: `_id` is its primary key as a string, `deviceNumber`
its OCPP identity, `location` [longitude, latitude] of its site.

State, from the charger and its connectors (first rule that applies):
  Repair  the charger is switched inoperative, not accepted, or every connector Unavailable
  Error   the charger is offline, reports Faulted itself, or every connector is Faulted
  Idle    at least one connector is Available or Preparing (a car plugged in, not yet
          charging: the driver standing there starts on it from the app)
  Busy    otherwise (charging, suspended, finishing, reserved, occupied)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from accounts.errors import parse_id
from accounts.models import User
from chargepoints.models import ChargePoint, Connector, ConnectorStatus, RegistrationStatus
from tariffs import selectors as tariff_selectors
from tariffs.models import ElectricityPrice

logger = logging.getLogger(__name__)

IDLE, BUSY, REPAIR, ERROR = "Idle", "Busy", "Repair", "Error"
ZERO = Decimal("0")


@dataclass(frozen=True)
class Box:
    bottom_left_longitude: Decimal
    bottom_left_latitude: Decimal
    upper_right_longitude: Decimal
    upper_right_latitude: Decimal


def _driver_visible() -> QuerySet[ChargePoint]:
    return ChargePoint.objects.filter(public_charging=True, site__isnull=False).select_related("site")


def device_get(*, device_id: str) -> ChargePoint | None:
    """A charger a driver may see, by the `_id` the app has; None for anything else."""
    pk = parse_id(device_id)
    if pk is None:
        return None
    return _driver_visible().prefetch_related("connectors").filter(pk=pk).first()


def device_list_in_box(*, box: Box) -> list[ChargePoint]:
    """Public chargers whose site lies in the box (edges included). A box whose left edge is
    east of its right edge spans the antimeridian."""
    longitude = Q(site__longitude__gte=box.bottom_left_longitude, site__longitude__lte=box.upper_right_longitude)
    if box.bottom_left_longitude > box.upper_right_longitude:
        longitude = Q(site__longitude__gte=box.bottom_left_longitude) | Q(
            site__longitude__lte=box.upper_right_longitude
        )
    return list(
        _driver_visible()
        .filter(longitude, site__latitude__gte=box.bottom_left_latitude, site__latitude__lte=box.upper_right_latitude)
        .prefetch_related(Prefetch("connectors", queryset=Connector.objects.order_by("connector_id")))
        .order_by("pk")[:1000]
    )


def device_state(charge_point: ChargePoint) -> str:
    statuses = [connector.status for connector in charge_point.connectors.all()]
    if (
        not charge_point.is_operative
        or charge_point.registration_status != RegistrationStatus.ACCEPTED
        or charge_point.status == ConnectorStatus.UNAVAILABLE
        or (statuses and all(s == ConnectorStatus.UNAVAILABLE for s in statuses))
    ):
        return REPAIR
    if (
        not charge_point.is_online
        or charge_point.status == ConnectorStatus.FAULTED
        or not statuses
        or all(s == ConnectorStatus.FAULTED for s in statuses)
    ):
        return ERROR
    if any(s in (ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING) for s in statuses):
        return IDLE
    return BUSY


class NoPrice(Exception):
    """The charger's price cannot be looked up right now."""


def device_prices(charge_point: ChargePoint) -> tuple[Decimal, Decimal]:
    """(price per kWh, waiting price per minute) from the tariffs area; NoPrice when the
    tariff's hourly price is missing."""
    try:
        price, waiting_price = tariff_selectors.charge_point_prices(charge_point=charge_point)
    except (tariff_selectors.PriceUnavailable, ElectricityPrice.DoesNotExist) as exc:
        logger.error("no price for charger %s: %s", charge_point.identity, exc)
        raise NoPrice(str(exc)) from exc
    return price or ZERO, waiting_price or ZERO


def device_location(charge_point: ChargePoint) -> list[Decimal]:
    return [charge_point.site.longitude, charge_point.site.latitude]


def device_summary(charge_point: ChargePoint, *, prices: tuple | None = None) -> dict:
    price, waiting_price = prices or device_prices(charge_point)
    return {
        "_id": str(charge_point.pk),
        "deviceNumber": charge_point.identity,
        "location": device_location(charge_point),
        "price": price,
        "waitingPrice": waiting_price,
    }


def device_with_state(charge_point: ChargePoint) -> dict:
    return {**device_summary(charge_point), "state": device_state(charge_point)}


def device_map(*, box: Box) -> list[dict]:
    """The chargers of a map box with state and prices. A charger without a price right
    now is left out rather than shown as free."""
    devices = []
    for charge_point in device_list_in_box(box=box):
        try:
            devices.append(device_with_state(charge_point))
        except NoPrice:
            continue
    return devices


# --- the driver ------------------------------------------------------------------------


def driver_active_session(*, user: User):
    from sessions_app.models import ChargeSession

    return (
        ChargeSession.objects.select_related("charge_point__site", "connector")
        .filter(user=user, status=ChargeSession.Status.ACTIVE)
        .order_by("-started_at")
        .first()
    )


def driver_active_device(*, user: User) -> dict | None:
    session = driver_active_session(user=user)
    if session is None or session.charge_point.site is None:
        return None
    try:
        return device_summary(session.charge_point)
    except NoPrice:
        # The driver is charging there: show the charger, with the price unknown (null).
        return device_summary(session.charge_point, prices=(None, None))


def driver_balance(*, user: User) -> Decimal:
    from billing.wallet import wallet_balance

    try:
        return wallet_balance(user_id=user.pk)
    except TypeError:  # the contract's older spelling
        return wallet_balance(user=user)


def driver_profile(*, user: User) -> dict:
    return {"name": user.name, "email": user.email, "phone": user.phone or "", "balance": driver_balance(user=user)}


def driver_login_answer(*, user: User, token: str) -> dict:
    """What otp-check and me answer: token, profile, active device (if any), NATS block."""
    from drivers.nats import nats_block

    return {
        "token": token,
        "profile": driver_profile(user=user),
        "device": driver_active_device(user=user),
        "nats": nats_block(user.pk),
    }
