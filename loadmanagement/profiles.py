"""The charging profiles load management sends, and the current limit of anybody else's.

Ours, in OCPP 1.6 spelling (the command bus translates them for 2.0.1 chargers):
- a TxProfile per running transaction with its share (Relative: from the start of the
  transaction, one period, no end), id TX_PROFILE_BASE + connector number;
- a fail-safe TxDefaultProfile on connector 0 (every connector) with a safe share, so a
  charger that loses the back office starts new sessions within the site's capacity.
Both sit at STACK_LEVEL, above the Blue Current API's profiles (stack levels 1 and 2) and
/API/SetChargingLimit's (1): for a transaction our TxProfile is what the charger follows,
so the other limits in force are folded into it (the lowest wins: limit_now()).

Pure functions, no database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from ocpp_consumer import charging_profiles

SOURCE = "loadmanagement"
TX_PROFILE_BASE = 7000
FAIL_SAFE_PROFILE_ID = 6999
STACK_LEVEL = 3
TX_PROFILE = "TxProfile"
TX_DEFAULT_PROFILE = "TxDefaultProfile"
RELATIVE = "Relative"
_RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


def tx_profile_id(connector_id: int) -> int:
    return TX_PROFILE_BASE + connector_id


def _amps_schedule(limit_amps: Decimal) -> dict:
    return charging_profiles.schedule(unit="A", periods=[{"startPeriod": 0, "limit": float(limit_amps)}])


def tx_profile_payload(*, connector_id: int, transaction_id: int | str, limit_amps: Decimal) -> dict:
    """SetChargingProfile for one transaction (1.6 transactionId is an integer)."""
    return charging_profiles.set_profile_payload(
        connector_id=connector_id,
        profile_id=tx_profile_id(connector_id),
        stack_level=STACK_LEVEL,
        purpose=TX_PROFILE,
        kind=RELATIVE,
        charging_schedule=_amps_schedule(limit_amps),
        transaction_id=transaction_id,
    )


def tx_profile_payload_201(*, evse_id: int, transaction_id: str, limit_amps: Decimal) -> dict:
    """The native OCPP 2.0.1 SetChargingProfile of tx_profile_payload(): on the EVSE, with
    the transaction's (text) id, which a 1.6-shaped payload cannot carry."""
    profile_id = tx_profile_id(evse_id)
    return {
        "evseId": evse_id,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": STACK_LEVEL,
            "chargingProfilePurpose": TX_PROFILE,
            "chargingProfileKind": RELATIVE,
            "transactionId": transaction_id,
            "chargingSchedule": [{"id": profile_id, **_amps_schedule(limit_amps)}],
        },
    }


def fail_safe_payload(*, limit_amps: Decimal) -> dict:
    return charging_profiles.set_profile_payload(
        connector_id=0,
        profile_id=FAIL_SAFE_PROFILE_ID,
        stack_level=STACK_LEVEL,
        purpose=TX_DEFAULT_PROFILE,
        kind=RELATIVE,
        charging_schedule=_amps_schedule(limit_amps),
    )


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def limit_now(
    *,
    schedule: dict,
    kind: str,
    recurrency_kind: str,
    now: datetime,
    transaction_start: datetime | None,
    voltage: float,
    phases: int,
) -> float | None:
    """The limit (A per phase) a chargingSchedule (1.6 field names) sets at `now`; None when
    it sets none then (not started, run out, unreadable)."""
    periods = schedule.get("chargingSchedulePeriod") or []
    if not periods:
        return None
    start = _parse(schedule.get("startSchedule"))
    if kind == RELATIVE or start is None:
        start = transaction_start or now
    elapsed = (now - start).total_seconds()
    step = _RECURRENCE.get(recurrency_kind) if kind == "Recurring" else None
    if step is not None:
        elapsed %= step.total_seconds()
    duration = schedule.get("duration")
    if elapsed < 0 or (duration is not None and elapsed >= duration):
        return None
    current = None
    for period in sorted(periods, key=lambda p: p.get("startPeriod", 0)):
        if period.get("startPeriod", 0) <= elapsed:
            current = period
    if current is None:
        return None
    limit = float(current["limit"])
    if schedule.get("chargingRateUnit") == "W":
        limit = limit / (voltage * (current.get("numberPhases") or phases))
    return limit
