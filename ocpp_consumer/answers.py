"""What the central system keeps from a charger's answer to a command.

commands.send_async() calls record() after every successful answer, so each caller (the
operator API, the portal, the Blue Current API, Celery tasks, the shell) gets the same
bookkeeping without doing it itself:
- GetConfiguration: the reported keys go to chargepoints.ConfigurationKey;
- ChangeConfiguration, Accepted or RebootRequired: the stored value is updated;
- SetChargingProfile: a chargepoints.ChargingProfile row, active or rejected;
- ClearChargingProfile, Accepted: the matching live profiles become cleared.
Payloads are the OCPP 1.6 shapes (also what callers send to a 2.0.1 charger through
ocpp_consumer.translate). A failure here is logged: the charger's answer still counts.
"""
from __future__ import annotations

import logging
from typing import Callable

from channels.db import database_sync_to_async

from chargepoints import services

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "command"


def _get_configuration(identity: str, payload: dict, answer: dict, source: str) -> None:
    if "configurationKey" in answer or "unknownKey" in answer:
        services.configuration_keys_store(identity=identity, keys=answer.get("configurationKey") or [],
                                          unknown=answer.get("unknownKey") or [])


def _change_configuration(identity: str, payload: dict, answer: dict, source: str) -> None:
    if answer.get("status") in ("Accepted", "RebootRequired") and "key" in payload:
        services.configuration_key_set(identity=identity, key=payload["key"], value=str(payload.get("value", "")))


def _set_charging_profile(identity: str, payload: dict, answer: dict, source: str) -> None:
    profile = payload.get("csChargingProfiles")
    if isinstance(profile, dict) and answer.get("status"):
        services.charging_profile_record_answer(identity=identity, connector_id=int(payload.get("connectorId", 0)),
                                                profile=profile, answer_status=answer["status"], source=source)


def _clear_charging_profile(identity: str, payload: dict, answer: dict, source: str) -> None:
    if answer.get("status") == "Accepted" and "chargingProfileCriteria" not in payload:  # 2.0.1 shape: not ours
        services.charging_profiles_record_cleared(identity=identity, criteria=payload)


RECORDERS: dict[str, Callable[[str, dict, dict, str], None]] = {
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
}


def record_sync(identity: str, action: str, payload: dict, answer: dict, *, source: str = "") -> None:
    recorder = RECORDERS.get(action)
    if recorder is None or not isinstance(answer, dict):
        return
    try:
        recorder(identity, payload, answer, source or DEFAULT_SOURCE)
    except Exception:
        logger.exception("%s: could not record the answer to %s", identity, action)


async def record(identity: str, action: str, payload: dict, answer: dict, *, source: str = "") -> None:
    if action in RECORDERS:
        await database_sync_to_async(record_sync)(identity, action, payload, answer, source=source)
