"""SetChargingProfile requests: the one builder of the payload every interface sends.

Built in OCPP 1.6 spelling (connectorId, csChargingProfiles); the command bus translates it
for 2.0.1 chargers (ocpp_consumer.translate) and records the profile it sets
(ocpp_consumer.answers). The operator APIs' daily limits also have a native 2.0.1 form that
addresses the connector's EVSE (operator_api.services).
"""

from __future__ import annotations

from datetime import datetime

SET_CHARGING_PROFILE = "SetChargingProfile"


def schedule(
    *, unit: str, periods: list[dict], start: datetime | str | None = None, duration: int | None = None
) -> dict:
    """A chargingSchedule: rate unit ("W" or "A"), periods ({"startPeriod", "limit"}, ...)."""
    body: dict = {}
    if duration is not None:
        body["duration"] = duration
    if start is not None:
        body["startSchedule"] = start if isinstance(start, str) else start.isoformat().replace("+00:00", "Z")
    body["chargingRateUnit"] = unit
    body["chargingSchedulePeriod"] = periods
    return body


def profile_body(
    *,
    profile_id: int,
    stack_level: int,
    purpose: str,
    kind: str,
    charging_schedule: dict,
    recurrency_kind: str = "",
    transaction_id: int | str | None = None,
) -> dict:
    """A csChargingProfiles object (1.6 field names). A TxProfile names its transaction."""
    body = {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": str(purpose),
        "chargingProfileKind": str(kind),
    }
    if transaction_id is not None:
        body["transactionId"] = transaction_id
    if recurrency_kind:
        body["recurrencyKind"] = recurrency_kind
    body["chargingSchedule"] = charging_schedule
    return body


def set_profile_payload(
    *,
    connector_id: int,
    profile_id: int,
    stack_level: int,
    purpose: str,
    kind: str,
    charging_schedule: dict,
    recurrency_kind: str = "",
    transaction_id: int | str | None = None,
) -> dict:
    """The SetChargingProfile payload (1.6 spelling) for `connector_id` (0: the whole charger).
    A 2.0.1 charger gets it translated (the transaction id as a string)."""
    return {
        "connectorId": connector_id,
        "csChargingProfiles": profile_body(
            profile_id=profile_id,
            stack_level=stack_level,
            purpose=purpose,
            kind=kind,
            charging_schedule=charging_schedule,
            recurrency_kind=recurrency_kind,
            transaction_id=transaction_id,
        ),
    }
