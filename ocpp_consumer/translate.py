"""1.6 commands for 2.0.1 chargers.

Operators, the driver API and the OCPP.Core-compatible API ask for 1.6 concepts
(GetConfiguration, Reset Hard, RemoteStartTransaction, ...). When the charger speaks
ocpp2.0.1, `translate_for_v201()` turns such a request into its 2.0.1 counterpart and
gives back a function that turns the charger's 2.0.1 answer into the 1.6 answer the
caller expects. A payload that is already valid 2.0.1 is sent as it is.

Configuration keys map onto the device model: a standard table for the well-known keys,
`Component.Variable` for anything else, and otherwise a variable of that name found in
the charger's NotifyReport data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chargepoints import device_model
from chargepoints.models import DeviceVariable, IdToken
from ocpp_consumer import schemas

V201 = "ocpp2.0.1"

# 1.6 configuration key -> (component, variable, variable instance)
CONFIGURATION_KEYS: dict[str, tuple[str, str, str]] = {
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval", ""),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval", ""),
    "ResetRetries": ("OCPPCommCtrlr", "ResetRetries", ""),
    "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
    "TransactionMessageRetryInterval": ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval", ""),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands", ""),
    "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands", ""),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval", ""),
    "MeterValuesAlignedData": ("AlignedDataCtrlr", "Measurands", ""),
    "StopTxnAlignedData": ("AlignedDataCtrlr", "TxEndedMeasurands", ""),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut", ""),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect", ""),
    "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId", ""),
    "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline", ""),
    "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize", ""),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart", ""),
    "AllowOfflineTxForUnknownId": ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", ""),
    "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled", ""),
    "LocalAuthListEnabled": ("LocalAuthListCtrlr", "Enabled", ""),
    "ChargeProfileMaxStackLevel": ("SmartChargingCtrlr", "ProfileStackLevel", ""),
    "ChargingScheduleAllowedChargingRateUnit": ("SmartChargingCtrlr", "RateUnit", ""),
}

_PURPOSES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}
_TRIGGERS = {"DiagnosticsStatusNotification": "LogStatusNotification"}


@dataclass
class Translated:
    action: str
    payload: dict
    # Turns the charger's answer into the one the caller asked for; None: pass it through.
    answer_back: Callable[[dict], dict] | None = None
    # When set, the caller gets this and nothing is sent (e.g. only unknown keys asked for).
    local_answer: dict | None = None


class NotTranslatable(ValueError):
    """The payload is neither valid 2.0.1 nor a 1.6 request we know how to translate."""


def translate_for_v201(
    *, action: str, payload: dict, identity: str | None = None, charge_point_id: int | None = None
) -> Translated:
    """The 2.0.1 request for `action`/`payload` to the charger known by `identity` (or
    pk). Sync: it reads the device model and records remote start requests."""
    if charge_point_id is None:
        from chargepoints.models import ChargePoint

        charge_point_id = ChargePoint.objects.values_list("pk", flat=True).get(identity=identity)
    translator = _TRANSLATORS.get(action)
    if schemas.has_schema(V201, action):
        try:
            schemas.check(V201, action, payload)
        except Exception:
            if translator is None:
                raise
        else:
            return Translated(action, payload)
    if translator is None:
        raise NotTranslatable(f"{action} has no OCPP 2.0.1 equivalent")
    if action != "RequestStartTransaction":
        schemas.check("ocpp1.6", action, payload)  # what we translate from must be valid 1.6
    return translator(charge_point_id, payload)


# Every action commands.send() accepts for a 2.0.1 charger: its own and the 1.6 names above.
def accepted_actions(native: frozenset[str]) -> frozenset[str]:
    return native | frozenset(_TRANSLATORS)


async def prepare_async(*, identity: str, action: str, payload: dict) -> Translated:
    """For the command bus: translate (in a thread: it uses the database), mapping failures
    onto the bus's own errors."""
    from asgiref.sync import sync_to_async
    from ocpp.exceptions import OCPPError

    from ocpp_consumer.command_errors import InvalidPayload, UnknownAction

    try:
        return await sync_to_async(translate_for_v201)(identity=identity, action=action, payload=payload)
    except NotTranslatable as exc:
        raise UnknownAction(str(exc)) from None
    except OCPPError as error:
        raise InvalidPayload(f"{action}: {error.description} ({(error.details or {}).get('cause', '')})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidPayload(f"{action}: cannot translate for OCPP 2.0.1 ({exc})") from None


async def answer_back_async(translated: Translated, answer: dict) -> dict:
    from asgiref.sync import sync_to_async

    if translated.answer_back is None:
        return answer
    return await sync_to_async(translated.answer_back)(answer)


# --- helpers -------------------------------------------------------------------------------


def _evse_of(charge_point_id: int, connector_id: int) -> tuple[int, int]:
    return device_model.evse_address(charge_point_id=charge_point_id, connector_id=connector_id)


def _id_token(uid: str) -> dict:
    token_type = IdToken.objects.filter(uid=uid).values_list("token_type", flat=True).first()
    return {"idToken": uid, "type": token_type or "Central"}


def _profile(profile16: dict) -> dict:
    """A 1.6 csChargingProfiles in the 2.0.1 ChargingProfileType shape."""
    schedule16 = profile16["chargingSchedule"]
    schedule = {
        "id": profile16["chargingProfileId"],
        "chargingRateUnit": schedule16["chargingRateUnit"],
        "chargingSchedulePeriod": [
            {k: v for k, v in period.items() if k in {"startPeriod", "limit", "numberPhases"}}
            for period in schedule16["chargingSchedulePeriod"]
        ],
    }
    for key in ("duration", "startSchedule", "minChargingRate"):
        if key in schedule16:
            schedule[key] = schedule16[key]
    profile = {
        "id": profile16["chargingProfileId"],
        "stackLevel": profile16["stackLevel"],
        "chargingProfilePurpose": _PURPOSES.get(
            profile16["chargingProfilePurpose"], profile16["chargingProfilePurpose"]
        ),
        "chargingProfileKind": profile16["chargingProfileKind"],
        "chargingSchedule": [schedule],
    }
    for key in ("recurrencyKind", "validFrom", "validTo"):
        if key in profile16:
            profile[key] = profile16[key]
    if "transactionId" in profile16:
        profile["transactionId"] = str(profile16["transactionId"])
    return profile


def _status(mapping: dict[str, str] | None = None, default: str | None = None) -> Callable[[dict], dict]:
    def back(answer: dict) -> dict:
        status = answer.get("status", "Rejected")
        return {"status": (mapping or {}).get(status, status if default is None else default)}

    return back


def _variable_for_key(charge_point_id: int, key: str) -> tuple[str, str, str] | None:
    if key in CONFIGURATION_KEYS:
        return CONFIGURATION_KEYS[key]
    if "." in key:
        component, _, variable = key.partition(".")
        return component, variable, ""
    found = list(
        DeviceVariable.objects.filter(charge_point_id=charge_point_id, variable_name=key, attribute_type="Actual")
        .values_list("component_name", "variable_instance")
        .distinct()[:2]
    )
    if len(found) == 1:
        return found[0][0], key, found[0][1]
    return None


def _component_variable(component: str, variable: str, instance: str) -> dict:
    result = {"component": {"name": component}, "variable": {"name": variable}}
    if instance:
        result["variable"]["instance"] = instance
    return result


# Variables OCPP 2.0.1 (part 2, appendix 3) defines as ReadOnly: what `readonly` says for
# them before the charger's own report (NotifyReport mutability) tells us otherwise.
READ_ONLY_VARIABLES: frozenset[tuple[str, str]] = frozenset(
    {
        ("SmartChargingCtrlr", "ProfileStackLevel"),
        ("SmartChargingCtrlr", "RateUnit"),
        ("SmartChargingCtrlr", "PeriodsPerSchedule"),
        ("SmartChargingCtrlr", "Entries"),
        ("DeviceDataCtrlr", "ItemsPerMessage"),
        ("DeviceDataCtrlr", "BytesPerMessage"),
        ("ChargingStation", "Model"),
        ("ChargingStation", "VendorName"),
        ("ChargingStation", "SerialNumber"),
    }
)


def _readonly(charge_point_id: int, component: str, variable: str) -> bool:
    row = device_model.device_variable_find(
        charge_point_id=charge_point_id, component_name=component, variable_name=variable
    )
    if row is None or not row.mutability:
        return (component, variable) in READ_ONLY_VARIABLES
    return row.mutability == "ReadOnly"


# --- one translator per 1.6 action -------------------------------------------------------------


def _get_configuration(charge_point_id: int, payload: dict) -> Translated:
    keys = payload.get("key")
    if keys:
        wanted = [(key, _variable_for_key(charge_point_id, key)) for key in keys]
    else:  # everything: the charger's own device model when we have it, else the standard keys
        rows = (
            DeviceVariable.objects.filter(charge_point_id=charge_point_id, attribute_type="Actual", evse_id=0)
            .values_list("component_name", "variable_name", "variable_instance")
            .distinct()
        )
        wanted = [(f"{c}.{v}", (c, v, i)) for c, v, i in rows] or [(k, cv) for k, cv in CONFIGURATION_KEYS.items()]
    unknown = [key for key, cv in wanted if cv is None]
    known = [(key, cv) for key, cv in wanted if cv is not None]
    if not known:
        return Translated("GetVariables", {}, local_answer={"configurationKey": [], "unknownKey": unknown})

    def back(answer: dict) -> dict:
        configuration, missing, seen = [], list(unknown), []
        for (key, (component, variable, _)), result in zip(known, answer.get("getVariableResult", [])):
            if result.get("attributeStatus") == "Accepted":
                entry = {"key": key[:50], "readonly": _readonly(charge_point_id, component, variable)}
                if "attributeValue" in result:
                    entry["value"] = result["attributeValue"][:500]
                    seen.append({**result, "value": result["attributeValue"]})
                configuration.append(entry)
            else:
                missing.append(key)
        device_model.device_variable_set_values(charge_point_id=charge_point_id, results=seen)
        return {"configurationKey": configuration, "unknownKey": [k[:50] for k in missing]}

    data = [_component_variable(*cv) for _, cv in known]
    return Translated("GetVariables", {"getVariableData": data}, answer_back=back)


_SET_STATUS = {
    "UnknownComponent": "NotSupported",
    "UnknownVariable": "NotSupported",
    "NotSupportedAttributeType": "NotSupported",
}


def _change_configuration(charge_point_id: int, payload: dict) -> Translated:
    cv = _variable_for_key(charge_point_id, payload["key"])
    if cv is None:
        return Translated("SetVariables", {}, local_answer={"status": "NotSupported"})
    data = {**_component_variable(*cv), "attributeValue": payload["value"]}

    def back(answer: dict) -> dict:
        result = (answer.get("setVariableResult") or [{}])[0]
        status = result.get("attributeStatus", "Rejected")
        if status in {"Accepted", "RebootRequired"}:
            device_model.device_variable_set_values(
                charge_point_id=charge_point_id, results=[{**_component_variable(*cv), "value": payload["value"]}]
            )
        return {"status": _SET_STATUS.get(status, status)}

    return Translated("SetVariables", {"setVariableData": [data]}, answer_back=back)


def _reset(charge_point_id: int, payload: dict) -> Translated:
    # Hard = now, whatever is going on; Soft = when idle (the 2.0.1 charger ends its transactions first).
    kind = {"Hard": "Immediate", "Soft": "OnIdle"}[payload["type"]]
    return Translated("Reset", {"type": kind}, answer_back=_status({"Scheduled": "Accepted"}))


def _request_start(charge_point_id: int, id_token: dict, evse_id: int | None, profile: dict | None) -> Translated:
    from sessions_app.transaction_events import remote_start_request_add, remote_start_request_answered

    user_id = IdToken.objects.filter(uid=id_token["idToken"]).values_list("user_id", flat=True).first()
    request = remote_start_request_add(
        charge_point=_charge_point(charge_point_id),
        id_token=id_token["idToken"],
        id_token_type=id_token["type"],
        evse_id=evse_id,
        user_id=user_id,
    )
    payload: dict = {"idToken": id_token, "remoteStartId": request.pk}
    if evse_id:
        payload["evseId"] = evse_id
    if profile:
        payload["chargingProfile"] = profile

    def answered(answer: dict) -> None:
        remote_start_request_answered(
            remote_start_id=request.pk, status=answer.get("status", ""), transaction_id=answer.get("transactionId", "")
        )

    return Translated("RequestStartTransaction", payload, answer_back=lambda a: (answered(a), a)[1])


def _charge_point(charge_point_id: int):
    from chargepoints.models import ChargePoint

    return ChargePoint.objects.get(pk=charge_point_id)


def _native_request_start(charge_point_id: int, payload: dict) -> Translated:
    """A 2.0.1 RequestStartTransaction without a remoteStartId gets ours (a caller that
    chose its own keeps it: the payload was valid and was not translated). An idToken
    without a type gets the type we know the token by (Central for one we do not know)."""
    if not isinstance(payload.get("idToken"), dict) or "idToken" not in payload["idToken"]:
        raise NotTranslatable("RequestStartTransaction needs an idToken")
    uid = payload["idToken"]["idToken"]
    token = {"idToken": uid, "type": payload["idToken"].get("type") or _id_token(uid)["type"]}
    translated = _request_start(charge_point_id, token, payload.get("evseId"), payload.get("chargingProfile"))
    inner = translated.answer_back
    translated.answer_back = lambda answer: {**inner(answer), "remoteStartId": translated.payload["remoteStartId"]}
    return translated


def _remote_start(charge_point_id: int, payload: dict) -> Translated:
    evse_id = _evse_of(charge_point_id, payload.get("connectorId", 0))[0] or None
    profile = _profile(payload["chargingProfile"]) if payload.get("chargingProfile") else None
    translated = _request_start(charge_point_id, _id_token(payload["idTag"]), evse_id, profile)
    inner = translated.answer_back
    translated.answer_back = lambda answer: {"status": inner(answer).get("status", "Rejected")}
    return translated


def _remote_stop(charge_point_id: int, payload: dict) -> Translated:
    return Translated("RequestStopTransaction", {"transactionId": str(payload["transactionId"])}, answer_back=_status())


def _unlock(charge_point_id: int, payload: dict) -> Translated:
    evse_id, connector_id = _evse_of(charge_point_id, payload["connectorId"])
    return Translated(
        "UnlockConnector",
        {"evseId": evse_id, "connectorId": connector_id},
        answer_back=_status({"OngoingAuthorizedTransaction": "UnlockFailed", "UnknownConnector": "NotSupported"}),
    )


def _change_availability(charge_point_id: int, payload: dict) -> Translated:
    out: dict = {"operationalStatus": payload["type"]}
    if payload.get("connectorId"):
        evse_id, connector_id = _evse_of(charge_point_id, payload["connectorId"])
        out["evse"] = {"id": evse_id, "connectorId": connector_id}
    return Translated("ChangeAvailability", out, answer_back=_status())


def _set_charging_profile(charge_point_id: int, payload: dict) -> Translated:
    evse_id = _evse_of(charge_point_id, payload["connectorId"])[0]
    return Translated(
        "SetChargingProfile",
        {"evseId": evse_id, "chargingProfile": _profile(payload["csChargingProfiles"])},
        answer_back=_status(),
    )


def _clear_charging_profile(charge_point_id: int, payload: dict) -> Translated:
    out: dict = {}
    if "id" in payload:
        out["chargingProfileId"] = payload["id"]
    criteria: dict = {}
    if "connectorId" in payload:
        criteria["evseId"] = _evse_of(charge_point_id, payload["connectorId"])[0]
    if "chargingProfilePurpose" in payload:
        criteria["chargingProfilePurpose"] = _PURPOSES.get(
            payload["chargingProfilePurpose"], payload["chargingProfilePurpose"]
        )
    if "stackLevel" in payload:
        criteria["stackLevel"] = payload["stackLevel"]
    if criteria:
        out["chargingProfileCriteria"] = criteria
    return Translated("ClearChargingProfile", out, answer_back=_status())


def _composite_schedule(charge_point_id: int, payload: dict) -> Translated:
    out = {"duration": payload["duration"], "evseId": _evse_of(charge_point_id, payload["connectorId"])[0]}
    if "chargingRateUnit" in payload:
        out["chargingRateUnit"] = payload["chargingRateUnit"]

    def back(answer: dict) -> dict:
        result = {"status": answer.get("status", "Rejected")}
        schedule = answer.get("schedule")
        if schedule:
            result.update(
                connectorId=payload["connectorId"],
                scheduleStart=schedule["scheduleStart"],
                chargingSchedule={
                    "duration": schedule["duration"],
                    "chargingRateUnit": schedule["chargingRateUnit"],
                    "chargingSchedulePeriod": schedule["chargingSchedulePeriod"],
                },
            )
        return result

    return Translated("GetCompositeSchedule", out, answer_back=back)


def _trigger(charge_point_id: int, payload: dict) -> Translated:
    out: dict = {"requestedMessage": _TRIGGERS.get(payload["requestedMessage"], payload["requestedMessage"])}
    if payload.get("connectorId"):
        evse_id, connector_id = _evse_of(charge_point_id, payload["connectorId"])
        out["evse"] = {"id": evse_id, "connectorId": connector_id}
    return Translated("TriggerMessage", out, answer_back=_status())


def _request_id() -> int:
    import secrets

    return secrets.randbelow(2**31 - 1) + 1


def _update_firmware(charge_point_id: int, payload: dict) -> Translated:
    out: dict = {
        "requestId": _request_id(),
        "firmware": {"location": payload["location"], "retrieveDateTime": payload["retrieveDate"]},
    }
    for key in ("retries", "retryInterval"):
        if key in payload:
            out[key] = payload[key]
    return Translated("UpdateFirmware", out, answer_back=lambda answer: {})


def _get_diagnostics(charge_point_id: int, payload: dict) -> Translated:
    log: dict = {"remoteLocation": payload["location"]}
    if "startTime" in payload:
        log["oldestTimestamp"] = payload["startTime"]
    if "stopTime" in payload:
        log["latestTimestamp"] = payload["stopTime"]
    out: dict = {"logType": "DiagnosticsLog", "requestId": _request_id(), "log": log}
    for key in ("retries", "retryInterval"):
        if key in payload:
            out[key] = payload[key]
    return Translated(
        "GetLog", out, answer_back=lambda answer: {"fileName": answer["filename"]} if answer.get("filename") else {}
    )


def _send_local_list(charge_point_id: int, payload: dict) -> Translated:
    out: dict = {"versionNumber": payload["listVersion"], "updateType": payload["updateType"]}
    entries = []
    for entry in payload.get("localAuthorizationList", []):
        item: dict = {"idToken": _id_token(entry["idTag"])}
        if entry.get("idTagInfo"):
            info16 = entry["idTagInfo"]
            info: dict = {"status": info16["status"]}
            if "expiryDate" in info16:
                info["cacheExpiryDateTime"] = info16["expiryDate"]
            if "parentIdTag" in info16:
                info["groupIdToken"] = {"idToken": info16["parentIdTag"], "type": "Central"}
            item["idTokenInfo"] = info
        entries.append(item)
    if entries:
        out["localAuthorizationList"] = entries
    return Translated("SendLocalList", out, answer_back=_status())


def _reserve_now(charge_point_id: int, payload: dict) -> Translated:
    out: dict = {
        "id": payload["reservationId"],
        "expiryDateTime": payload["expiryDate"],
        "idToken": _id_token(payload["idTag"]),
    }
    if payload.get("connectorId"):
        out["evseId"] = _evse_of(charge_point_id, payload["connectorId"])[0]
    if payload.get("parentIdTag"):
        out["groupIdToken"] = {"idToken": payload["parentIdTag"], "type": "Central"}
    return Translated("ReserveNow", out, answer_back=_status())


_TRANSLATORS: dict[str, Callable[[int, dict], Translated]] = {
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "Reset": _reset,
    "RemoteStartTransaction": _remote_start,
    "RequestStartTransaction": _native_request_start,
    "RemoteStopTransaction": _remote_stop,
    "UnlockConnector": _unlock,
    "ChangeAvailability": _change_availability,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
    "GetCompositeSchedule": _composite_schedule,
    "TriggerMessage": _trigger,
    "UpdateFirmware": _update_firmware,
    "GetDiagnostics": _get_diagnostics,
    "SendLocalList": _send_local_list,
    "ReserveNow": _reserve_now,
}
