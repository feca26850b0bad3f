"""The frames we send, shaped for the `bluecurrent-api` client's handlers (utils.py).

Rules the client imposes (it raises KeyError/ValueError otherwise and drops the connection):
- every frame has "object"; ERROR frames have an int "error" and a "message";
- times are strings "YYYYMMDD HH:MM:SS+HH:MM" or "" (never null); an offset must start with
  "+" (the client only looks for "+"), so we always send UTC as "+00:00";
- numbers the client computes with (phases, max_usage, grid currents) are never null;
- STATUS_SET_* settings carry result.setting as a string with "true"/"false" in it;
- STATUS_* of actions carry "error" (a reason like "REJECTED", or "") and "evse_id";
- override schedules carry comma-joined day codes;
- an ERROR frame ends the client's connection: only a failure of the connection itself
  (bad session token, request limit) is one; a refused request gets its own answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# The client's error codes (bluecurrent_api.utils.ERRORS).
UNKNOWN_COMMAND = 0
INVALID_AUTH_TOKEN = 1
NOT_AUTHORIZED = 2
UNKNOWN_ERROR = 9
REQUEST_LIMIT_REACHED = 42
# Close code the client turns into RequestLimitReached.
CLOSE_REQUEST_LIMIT = 4001
CLOSE_ALREADY_CONNECTED = 4002

VEHICLE_STATUS = {
    # OCPP connector status -> IEC 61851 state letter (A-F) the client maps to words.
    "Available": "A",
    "Reserved": "A",
    "Unavailable": "A",
    "Preparing": "B",
    "Finishing": "B",
    "Occupied": "B",
    "SuspendedEV": "B",
    "Charging": "C",
    "SuspendedEVSE": "E",
    "Faulted": "F",
}

ACTIVITY = {
    "Available": "available",
    "Reserved": "available",
    "Preparing": "charging",
    "Charging": "charging",
    "SuspendedEV": "charging",
    "SuspendedEVSE": "charging",
    "Finishing": "charging",
    "Occupied": "charging",
    "Unavailable": "unavailable",
    "Faulted": "error",
}


def timestamp(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S+00:00")


def number(value: Any, places: int = 2) -> float | int:
    """A JSON number the client can compute with; None becomes 0."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def error(code: int, message: str) -> dict:
    return {"object": "ERROR", "error": code, "message": message}


def setting_value(value: bool, *, permission: str = "write") -> dict:
    return {"value": bool(value), "permission": permission}


def charge_points(entries: list[dict]) -> dict:
    return {"object": "CHARGE_POINTS", "data": entries}


def charge_point_entry(
    *,
    evse_id: str,
    name: str,
    model_type: str,
    chargepoint_type: str,
    activity: str,
    public_charging: bool,
    plug_and_charge: bool,
    smart_charging: bool,
    delayed_charging: dict,
    price_based_charging: dict,
    latitude: float | None,
    longitude: float | None,
) -> dict:
    return {
        "evse_id": evse_id,
        "name": name,
        "model_type": model_type,
        "chargepoint_type": chargepoint_type,
        "activity": activity,
        "linked_charge_cards_only": not public_charging,
        "public_charging": setting_value(public_charging),
        "plug_and_charge": plug_and_charge,
        "plug_and_charge_notification": False,
        "smart_charging": smart_charging,
        "delayed_charging": delayed_charging,
        "price_based_charging": price_based_charging,
        "x_coord": number(latitude, 6),
        "y_coord": number(longitude, 6),
    }


def ch_status(
    *,
    evse_id: str,
    voltages: tuple,
    currents: tuple,
    activity: str,
    vehicle_status: str,
    actual_kwh: Any,
    total_cost: Any,
    max_usage: int,
    smartcharging_max_usage: int,
    max_offline: int,
    start: datetime | None,
    stop: datetime | None,
    offline_since: datetime | None,
) -> dict:
    v1, v2, v3 = (number(v, 1) for v in voltages)
    p1, p2, p3 = (number(p, 1) for p in currents)
    return {
        "object": "CH_STATUS",
        "evse_id": evse_id,
        "data": {
            "evse_id": evse_id,
            "actual_v1": v1,
            "actual_v2": v2,
            "actual_v3": v3,
            "actual_p1": p1,
            "actual_p2": p2,
            "actual_p3": p3,
            "activity": activity,
            "vehicle_status": vehicle_status if vehicle_status in "ABCDEF" and vehicle_status else "A",
            "actual_kwh": number(actual_kwh, 2),
            "total_cost": number(total_cost, 2),
            "max_usage": int(max_usage or 0),
            "smartcharging_max_usage": int(smartcharging_max_usage or 0),
            "max_offline": int(max_offline or 0),
            "start_datetime": timestamp(start),
            "stop_datetime": timestamp(stop),
            "offline_since": timestamp(offline_since),
        },
    }


def ch_settings(
    *,
    evse_id: str,
    name: str,
    model_type: str,
    chargepoint_type: str,
    public_charging: bool,
    plug_and_charge: bool,
    smart_charging: bool,
    delayed_charging: dict,
    price_based_charging: dict,
) -> dict:
    return {
        "object": "CH_SETTINGS",
        "evse_id": evse_id,
        "data": {
            "evse_id": evse_id,
            "name": name,
            "model_type": model_type,
            "chargepoint_type": chargepoint_type,
            "plug_and_charge": setting_value(plug_and_charge),
            "public_charging": setting_value(public_charging),
            "plug_and_charge_notification": False,
            "smart_charging": smart_charging,
            "delayed_charging": delayed_charging,
            "price_based_charging": price_based_charging,
        },
    }


def grid_status(*, evse_id: str, currents: tuple, max_install: int, max_reserved: int) -> dict:
    p1, p2, p3 = (number(p, 1) for p in currents)
    return {
        "object": "GRID_STATUS",
        "evse_id": evse_id,
        "data": {
            "id": f"GRID-{evse_id}",
            "grid_actual_p1": p1,
            "grid_actual_p2": p2,
            "grid_actual_p3": p3,
            "grid_max_install": int(max_install or 0),
            "grid_max_reserved": int(max_reserved or 0),
        },
    }


def charge_cards(cards: list[dict]) -> dict:
    return {"object": "CHARGE_CARDS", "data": cards}


def received(command: str, *, evse_id: str | None = None, error_text: str = "") -> dict:
    """First answer to a command: taken (error "") or refused (a readable reason)."""
    frame = {"object": f"RECEIVED_{command}", "success": not error_text, "error": error_text}
    if evse_id is not None:
        frame["evse_id"] = evse_id
    return frame


def not_authorized(command: str, *, evse_id: object) -> dict:
    """A request about a charger the token does not cover. An ERROR frame would end the
    client's whole connection (it raises on every ERROR), so this is the per-request refusal
    the client passes on or ignores: RECEIVED_<command> with success false. The client parses
    the currents of any frame whose name contains GRID, so that refusal carries zeros."""
    shown = evse_id if isinstance(evse_id, str) else ""
    frame = received(command, evse_id=shown, error_text=f"not authorized for chargepoint: {shown}")
    if "GRID" in command:
        frame["data"] = {"grid_actual_p1": 0, "grid_actual_p2": 0, "grid_actual_p3": 0}
    return frame


def action_status(command: str, *, evse_id: str, error_text: str = "", result: Any = None) -> dict:
    """Outcome of an action on a charger. error_text is a short reason the client lower-cases
    into "<action> <reason> for chargepoint: <evse_id>" (e.g. REJECTED, TIMEOUT, OFFLINE)."""
    return {
        "object": f"STATUS_{command}",
        "success": not error_text,
        "evse_id": evse_id,
        "result": {} if result is None else result,
        "error": error_text,
    }


def setting_status(command: str, *, evse_id: str, value: bool, error_text: str = "") -> dict:
    return {
        "object": f"STATUS_{command}",
        "success": not error_text,
        "evse_id": evse_id,
        "result": {"setting": "true" if value else "false"},
        "error": error_text,
    }


def override_schedule(schedule) -> dict:
    return {
        "schedule_id": schedule.schedule_id,
        "charge_points": list(schedule.charge_points),
        "start_time": schedule.start_time,
        "stop_time": schedule.stop_time,
        "override_start_days": ",".join(schedule.start_days),
        "override_end_days": ",".join(schedule.stop_days),
        "override_current": schedule.current,
    }


def override_list(schedules: list) -> dict:
    return {"object": "LIST_OVERRIDE_CURRENT", "data": [override_schedule(s) for s in schedules]}


def override_result(command: str, schedule) -> dict:
    return {"object": command, "success": True, "data": override_schedule(schedule), "error": ""}


def override_cleared(schedule_id: int) -> dict:
    return {"object": "POST_CLEAR_OVERRIDE_CURRENT", "success": True, "schedule_id": schedule_id, "error": ""}
