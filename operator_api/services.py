"""Writes of the operator APIs, and the charging limits we set (the command bus records
them as ChargingProfile rows with source "api": ocpp_consumer.answers).

A limit from /API/SetChargingLimit is a constant limit for 24 hours that recurs daily:
OCPP.Core's "simple daily schedule". Connector 0 limits the whole charger
(ChargePointMaxProfile, ChargingStationMaxProfile in 2.0.1); a connector limits that
connector's transactions (TxDefaultProfile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction

from chargepoints import device_model
from chargepoints.models import ChargePoint, ChargingProfile, OcppVersion
from ocpp_consumer import charging_profiles

# Our limits get fixed ids, one per connector, so a new limit replaces the previous one
# on the charger (same chargingProfileId) instead of stacking up.
PROFILE_ID_BASE = 1000
STACK_LEVEL = 1
DAY_SECONDS = 24 * 3600
MAX_LIMIT = {"W": Decimal(10_000_000), "A": Decimal(10_000)}

_LIMIT = re.compile(r"^\s*(?P<value>[0-9]+(?:[.,][0-9]+)?)\s*(?P<unit>[WwAa])\s*$")


class LimitError(ValueError):
    """A limit that cannot be sent; the message is meant for the API caller."""


@dataclass(frozen=True)
class ChargingLimit:
    value: Decimal
    unit: str  # "W" or "A"


def charging_limit_parse(raw: str) -> ChargingLimit:
    match = _LIMIT.match(raw or "")
    if match is None:
        raise LimitError(f"Malformed limit {raw!r}: give a positive number followed by W or A, e.g. 11000W or 16A.")
    try:
        value = Decimal(match["value"].replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise LimitError(f"Malformed limit {raw!r}.") from None
    unit = match["unit"].upper()
    if value <= 0:
        raise LimitError(f"The limit must be above zero, got {raw!r}.")
    if value > MAX_LIMIT[unit]:
        raise LimitError(f"The limit {raw!r} is above the maximum of {MAX_LIMIT[unit]}{unit}.")
    # OCPP limits have one decimal place.
    return ChargingLimit(value=value.quantize(Decimal("0.1")), unit=unit)


def limit_profile_id(connector_id: int) -> int:
    return PROFILE_ID_BASE + connector_id


def limit_purpose(*, protocol: str, connector_id: int) -> str:
    if connector_id != 0:
        return ChargingProfile.Purpose.TX_DEFAULT
    if protocol == OcppVersion.V201:
        return ChargingProfile.Purpose.CHARGING_STATION_MAX
    return ChargingProfile.Purpose.CHARGE_POINT_MAX


def _midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def limit_schedule(*, limit: ChargingLimit, now: datetime) -> dict:
    """The chargingSchedule (OCPP 1.6 spelling) of a constant limit for the whole day."""
    return charging_profiles.schedule(
        duration=DAY_SECONDS,
        start=_midnight(now),
        unit=limit.unit,
        periods=[{"startPeriod": 0, "limit": float(limit.value)}],
    )


def charging_limit_command(
    *, charge_point: ChargePoint, connector_id: int, limit: ChargingLimit, now: datetime
) -> tuple[str, dict]:
    """The SetChargingProfile call (action, payload) for the charger's OCPP version."""
    profile_id = limit_profile_id(connector_id)
    purpose = limit_purpose(protocol=charge_point.protocol, connector_id=connector_id)
    schedule = limit_schedule(limit=limit, now=now)
    profile = {
        "stackLevel": STACK_LEVEL,
        "chargingProfilePurpose": str(purpose),
        "chargingProfileKind": ChargingProfile.Kind.RECURRING.value,
        "recurrencyKind": "Daily",
    }
    if charge_point.protocol == OcppVersion.V201:
        # 2.0.1 limits an EVSE, which may have several connectors: the EVSE of this
        # connector, with a profile id per EVSE so its connectors share one profile.
        evse_id = _evse_id(charge_point, connector_id)
        profile_id = limit_profile_id(evse_id)
        return "SetChargingProfile", {
            "evseId": evse_id,
            "chargingProfile": {"id": profile_id, **profile, "chargingSchedule": [{"id": profile_id, **schedule}]},
        }
    return charging_profiles.SET_CHARGING_PROFILE, charging_profiles.set_profile_payload(
        connector_id=connector_id,
        profile_id=profile_id,
        stack_level=STACK_LEVEL,
        purpose=purpose,
        kind=ChargingProfile.Kind.RECURRING.value,
        recurrency_kind="Daily",
        charging_schedule=schedule,
    )


def _evse_id(charge_point: ChargePoint, connector_id: int) -> int:
    return device_model.evse_address(charge_point_id=charge_point.pk, connector_id=connector_id)[0]


def clear_limit_command(*, charge_point: ChargePoint, connector_id: int) -> tuple[str, dict]:
    purpose = str(limit_purpose(protocol=charge_point.protocol, connector_id=connector_id))
    if charge_point.protocol == OcppVersion.V201:
        return "ClearChargingProfile", {
            "chargingProfileCriteria": {
                "evseId": _evse_id(charge_point, connector_id),
                "chargingProfilePurpose": purpose,
            },
        }
    return "ClearChargingProfile", {"connectorId": connector_id, "chargingProfilePurpose": purpose}


# --- Plain records an operator edits -----------------------------------------------------


@transaction.atomic
def record_save(*, instance, fields: dict):
    """Set `fields` on a model instance, validate it (field validators and the model's
    constraints) and save it. Used for sites, charge points, connectors, id tokens and
    tariffs, whose writes have no rules beyond their model's."""
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def record_delete(*, instance) -> None:
    instance.delete()


@transaction.atomic
def charge_point_save(*, charge_point: ChargePoint, fields: dict, password: str | None = None) -> ChargePoint:
    """A charge point with its Basic-auth password hashed (the raw one is never stored)."""
    from chargepoints import charger_secrets

    if password:
        charge_point.password_hash = charger_secrets.make_hash(password)
    return record_save(instance=charge_point, fields=fields)


@transaction.atomic
def connector_save(*, connector, fields: dict, evse_id: int | None = None):
    """A connector and, for a new one, its EVSE (OCPP 1.6 connectors get the EVSE of the same
    number unless told otherwise)."""
    from chargepoints.models import Evse

    if connector.pk is None or evse_id is not None:
        number = evse_id or fields.get("connector_id") or connector.connector_id
        connector.evse, _ = Evse.objects.get_or_create(charge_point=connector.charge_point, evse_id=number)
    return record_save(instance=connector, fields=fields)
