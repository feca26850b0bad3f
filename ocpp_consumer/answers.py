"""What the central system keeps from a charger's answer to a command.

commands.send_async() calls record() after every command, so each caller (the operator
API, the portal, the Blue Current API, Celery tasks, the shell) gets the same bookkeeping
without doing it itself; the caller only names itself with `source`:
- GetConfiguration: the reported keys go to chargepoints.ConfigurationKey;
- ChangeConfiguration, Accepted or RebootRequired: the stored value is updated;
- SetChargingProfile: a chargepoints.ChargingProfile row, active or rejected (a CALLERROR
  is a rejection too), or pending when the charger did not answer in time;
- ClearChargingProfile, Accepted: the matching live profiles become cleared.

Charging profiles are recorded from OCPP 1.6 payloads (connectorId, csChargingProfiles;
also what callers send a 2.0.1 charger through ocpp_consumer.translate) and from native
OCPP 2.0.1 ones (evseId, chargingProfile with a chargingSchedule list). Configuration keys
are 1.6 only: a 2.0.1 charger's answers feed its device model (ocpp_consumer.v201).
A failure here is logged: the charger's answer still counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from chargepoints import services

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "command"
V16 = "ocpp1.6"
# The answer a SetChargingProfile gets when the charger answered with a CALLERROR.
REJECTED = {"status": "Rejected"}

Recorder = Callable[[str, dict, "dict | None", str], Any]


def _get_configuration(identity: str, payload: dict, answer: dict | None, source: str) -> None:
    if answer and ("configurationKey" in answer or "unknownKey" in answer):
        services.configuration_keys_store(
            identity=identity, keys=answer.get("configurationKey") or [], unknown=answer.get("unknownKey") or []
        )


def _change_configuration(identity: str, payload: dict, answer: dict | None, source: str) -> None:
    if answer and answer.get("status") in ("Accepted", "RebootRequired") and "key" in payload:
        services.configuration_key_set(identity=identity, key=payload["key"], value=str(payload.get("value", "")))


def _profile_from_201(profile: dict) -> dict:
    """A 2.0.1 ChargingProfileType in the 1.6 csChargingProfiles field names that
    chargepoints.services records. Of several schedules (ISO 15118 lets the EV choose) the
    row keeps them all; of one, that one, shaped as a 1.6 chargingSchedule."""
    schedules = profile.get("chargingSchedule") or []
    schedule: dict | list = schedules[0] if len(schedules) == 1 else schedules
    converted = {"chargingProfileId": profile.get("id"), "chargingSchedule": schedule}
    for key in (
        "stackLevel",
        "chargingProfilePurpose",
        "chargingProfileKind",
        "recurrencyKind",
        "validFrom",
        "validTo",
    ):
        if key in profile:
            converted[key] = profile[key]
    return converted


def _set_charging_profile(identity: str, payload: dict, answer: dict | None, source: str):
    """answer None: the charger did not answer in time, so the profile is pending."""
    if isinstance(payload.get("csChargingProfiles"), dict):  # 1.6
        connector_id, profile = payload.get("connectorId", 0), payload["csChargingProfiles"]
    elif isinstance(payload.get("chargingProfile"), dict):  # 2.0.1
        connector_id, profile = payload.get("evseId", 0), _profile_from_201(payload["chargingProfile"])
    else:
        return None
    status = None if answer is None else answer.get("status")
    if answer is not None and not status:
        return None
    return services.charging_profile_record_answer(
        identity=identity, connector_id=int(connector_id), profile=profile, answer_status=status, source=source
    )


def _clear_criteria_from_201(payload: dict) -> dict:
    """2.0.1 ClearChargingProfile (chargingProfileId, or chargingProfileCriteria with any of
    evseId, chargingProfilePurpose, stackLevel) in the 1.6 field names."""
    if payload.get("chargingProfileId") is not None:
        return {"id": payload["chargingProfileId"]}
    criteria = payload.get("chargingProfileCriteria") or {}
    converted = {
        "connectorId": criteria.get("evseId"),
        "chargingProfilePurpose": criteria.get("chargingProfilePurpose"),
        "stackLevel": criteria.get("stackLevel"),
    }
    return {key: value for key, value in converted.items() if value is not None}


def _clear_charging_profile(identity: str, payload: dict, answer: dict | None, source: str):
    if not answer or answer.get("status") != "Accepted":
        return None
    native = "chargingProfileId" in payload or "chargingProfileCriteria" in payload
    criteria = _clear_criteria_from_201(payload) if native else payload
    return services.charging_profiles_record_cleared(identity=identity, criteria=criteria)


RECORDERS: dict[str, Recorder] = {
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
}
# What a 2.0.1 charger's answers are recorded for here (the rest feeds its device model).
RECORDED_FOR_201 = frozenset({"SetChargingProfile", "ClearChargingProfile"})
# Actions whose outcome is recorded even without an answer (None: no answer in time).
RECORDED_WITHOUT_ANSWER = frozenset({"SetChargingProfile"})


def records(action: str, *, protocol: str = V16) -> bool:
    return action in RECORDERS and (protocol == V16 or action in RECORDED_FOR_201)


def record_sync(
    identity: str, action: str, payload: dict, answer: dict | None, *, source: str = "", protocol: str = V16
) -> Any:
    """Record what `answer` (None: none in time) tells about the charger. Returns what the
    recorder stored: for SetChargingProfile the ChargingProfile row, for ClearChargingProfile
    how many rows were cleared; None when nothing was recorded."""
    if not records(action, protocol=protocol) or not (isinstance(answer, dict) or answer is None):
        return None
    if answer is None and action not in RECORDED_WITHOUT_ANSWER:
        return None
    try:
        return RECORDERS[action](identity, payload, answer, source or DEFAULT_SOURCE)
    except Exception:
        logger.exception("%s: could not record the answer to %s", identity, action)
        return None


async def record(
    identity: str, action: str, payload: dict, answer: dict | None, *, source: str = "", protocol: str = V16
) -> Any:
    if records(action, protocol=protocol):
        return await database_sync_to_async(record_sync)(
            identity, action, payload, answer, source=source, protocol=protocol
        )
    return None
