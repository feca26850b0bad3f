"""The one reading of what chargers send about their meters: measurand names, timestamps,
and the sampled values of OCPP 1.6 MeterValues / StopTransaction transactionData and OCPP
2.0.1 MeterValues / TransactionEvent meterValue. Everything that parses these calls this
module (issue 15: the parsing existed three times, and only one copy skipped non-finite
values; timestamps were parsed three ways)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"
PERIODIC = "Sample.Periodic"


class Reading(NamedTuple):
    """One sampled value, its unit multiplier applied (so `value` is in plain `unit`)."""

    at: datetime
    measurand: str
    phase: str
    location: str
    context: str
    value: Decimal
    unit: str


def parse_timestamp(value: str | datetime | None) -> datetime:
    """An OCPP timestamp as an aware UTC datetime; one without an offset is read as UTC,
    a missing one is now. Raises ValueError for text that is no timestamp."""
    if value is None or value == "":
        return timezone.now()
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).strip().replace("z", "Z").replace(" ", "T"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def plausible_time(*, sent: datetime, received_at: datetime, not_before: datetime | None) -> tuple[datetime, str]:
    """The time to use for a charger's timestamp, and why it was not the one sent ("" when
    it was): more than SESSIONS_MAX_CLOCK_AHEAD_SECONDS in the future ("future"), or before
    `not_before` (the charger's boot, the session's start: "too_early"), gives the
    server's receive time."""
    if sent > received_at + timedelta(seconds=settings.SESSIONS_MAX_CLOCK_AHEAD_SECONDS):
        return received_at, "future"
    if not_before is not None and sent < not_before:
        return received_at, "too_early"
    return sent, ""


def number(value: Any, multiplier: Any = 0) -> Decimal | None:
    """A sampled value as a finite Decimal (times 10**multiplier), or None when it is not
    one ("NaN", "Infinity", "", garbage): such a value is skipped, never stored."""
    try:
        parsed = Decimal(str(value).strip())
        power = int(multiplier or 0)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not parsed.is_finite():
        return None
    return parsed.scaleb(power) if power else parsed


def _default_unit(measurand: str) -> str:
    return "Wh" if measurand.startswith("Energy") else ""


def readings_v16(meter_value: Iterable[dict]) -> list[Reading]:
    """OCPP 1.6 meterValue (snake_case keys, as the `ocpp` package hands them to handlers).
    Signed data is not a number (the frame journal keeps it)."""
    readings = []
    for entry in meter_value or ():
        at = parse_timestamp(entry.get("timestamp"))
        for sampled in entry.get("sampled_value", ()):
            if sampled.get("format") == "SignedData":
                continue
            value = number(sampled.get("value"))
            if value is None:
                continue
            measurand = sampled.get("measurand") or ENERGY_REGISTER
            readings.append(
                Reading(
                    at,
                    measurand,
                    sampled.get("phase") or "",
                    sampled.get("location") or "",
                    sampled.get("context") or PERIODIC,
                    value,
                    sampled.get("unit") or _default_unit(measurand),
                )
            )
    return readings


def readings_v201(meter_value: Iterable[dict], *, default_context: str = PERIODIC) -> list[Reading]:
    """OCPP 2.0.1 MeterValueType list, with camelCase keys (as on the wire) or snake_case
    (as the `ocpp` package hands them to handlers). The unit multiplier is applied."""
    readings = []
    for entry in meter_value or ():
        at = parse_timestamp(entry.get("timestamp"))
        for sampled in entry.get("sampledValue", entry.get("sampled_value", ())):
            unit = sampled.get("unitOfMeasure", sampled.get("unit_of_measure")) or {}
            value = number(sampled.get("value"), unit.get("multiplier", 0))
            if value is None:
                continue
            measurand = sampled.get("measurand") or ENERGY_REGISTER
            readings.append(
                Reading(
                    at,
                    measurand,
                    sampled.get("phase") or "",
                    sampled.get("location") or "",
                    sampled.get("context") or default_context,
                    value,
                    unit.get("unit") or _default_unit(measurand),
                )
            )
    return readings
