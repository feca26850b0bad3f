"""Builders of OCPP 2.0.1 TransactionEventRequest payloads for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def energy(wh: float, minutes: float, context: str = "Sample.Periodic", power_w: float | None = None) -> list[dict]:
    sampled = [
        {"value": wh, "context": context, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}
    ]
    if power_w is not None:
        sampled.append(
            {"value": power_w, "context": context, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}
        )
    return [{"timestamp": ts(minutes), "sampledValue": sampled}]


def event(
    event_type: str,
    seq_no: int,
    minutes: float,
    trigger: str,
    tx: str = "TX-1",
    *,
    state: str | None = None,
    reason: str | None = None,
    wh: float | None = None,
    id_token: str | None = None,
    evse: int | None = 1,
    offline: bool = False,
    remote_start_id: int | None = None,
    power_w: float | None = None,
) -> dict:
    info: dict = {"transactionId": tx}
    if state:
        info["chargingState"] = state
    if reason:
        info["stoppedReason"] = reason
    if remote_start_id is not None:
        info["remoteStartId"] = remote_start_id
    payload: dict = {
        "eventType": event_type,
        "timestamp": ts(minutes),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
    }
    if offline:
        payload["offline"] = True
    if evse is not None:
        payload["evse"] = {"id": evse, "connectorId": 1}
    if id_token:
        payload["idToken"] = {"idToken": id_token, "type": "ISO14443"}
    if wh is not None:
        context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(event_type, "Sample.Periodic")
        payload["meterValue"] = energy(wh, minutes, context, power_w)
    return payload


def kwargs_of(payload: dict) -> dict:
    """The service's keyword arguments for a wire payload."""
    return {
        "event_type": payload["eventType"],
        "timestamp": payload["timestamp"],
        "trigger_reason": payload["triggerReason"],
        "seq_no": payload["seqNo"],
        "transaction_info": payload["transactionInfo"],
        "offline": payload.get("offline", False),
        "id_token": payload.get("idToken"),
        "evse": payload.get("evse"),
        "meter_value": payload.get("meterValue"),
        "payload": payload,
    }
