"""OCPP 2.0.1 requests that carry a list of items: never more per message than the charger
takes (B06.FR.05 for GetVariables; the same for SetVariables). The charger reports its
limits as DeviceDataCtrlr.ItemsPerMessage[GetVariables] / [SetVariables]; the command bus
asks for the one it needs the first time (then it is in the device model), splits the
request, and joins the answers into one, as if the charger had taken it whole.
"""

from __future__ import annotations

from chargepoints import device_model
from chargepoints.models import ChargePoint

# action -> (the request's list, the answer's list)
ITEM_LISTS: dict[str, tuple[str, str]] = {
    "GetVariables": ("getVariableData", "getVariableResult"),
    "SetVariables": ("setVariableData", "setVariableResult"),
}
COMPONENT, VARIABLE = "DeviceDataCtrlr", "ItemsPerMessage"


def splits(action: str, payload: dict) -> bool:
    """Whether this request may need splitting (a list action with more than one item)."""
    return action in ITEM_LISTS and len(payload.get(ITEM_LISTS[action][0]) or ()) > 1


def limit_query(action: str) -> dict:
    """The GetVariables payload that asks the charger for its limit for `action`."""
    return {"getVariableData": [{"component": {"name": COMPONENT}, "variable": {"name": VARIABLE, "instance": action}}]}


def _parse(value) -> int | None:
    try:
        limit = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None


def _charge_point_id(identity: str) -> int | None:
    return ChargePoint.objects.values_list("pk", flat=True).filter(identity=identity).first()


def known_limit(*, identity: str, action: str) -> tuple[int | None, bool]:
    """(limit, known): the limit from the device model; known is False when the charger
    was never asked (nothing stored), True when it was, even without a usable value."""
    charge_point_id = _charge_point_id(identity)
    if charge_point_id is None:
        return None, True
    row = (
        device_model.device_variable_list(charge_point=charge_point_id, component_name=COMPONENT)
        .filter(variable_name=VARIABLE, variable_instance=action, attribute_type="Actual")
        .first()
    )
    if row is None:
        return None, False
    return _parse(row.value), True


def remember_limit(*, identity: str, action: str, answer: dict) -> int | None:
    """Store the charger's answer to limit_query() (an empty value when it has none, so it
    is not asked again) and return the limit."""
    results = answer.get("getVariableResult") or [{}]
    value = results[0].get("attributeValue") if results[0].get("attributeStatus") == "Accepted" else None
    charge_point_id = _charge_point_id(identity)
    if charge_point_id is not None:
        device_model.device_variable_set_values(
            charge_point_id=charge_point_id,
            results=[
                {
                    "component": {"name": COMPONENT},
                    "variable": {"name": VARIABLE, "instance": action},
                    "attributeType": "Actual",
                    "value": value if value is not None else "",
                }
            ],
        )
    return _parse(value)


def split(action: str, payload: dict, limit: int) -> list[dict]:
    """The request as payloads of at most `limit` items each (other fields kept on each)."""
    key = ITEM_LISTS[action][0]
    items = payload[key]
    return [{**payload, key: items[start : start + limit]} for start in range(0, len(items), limit)]


def join(action: str, answers: list[dict]) -> dict:
    """One answer from the answers to the parts, results in request order."""
    key = ITEM_LISTS[action][1]
    return {key: [result for answer in answers for result in answer.get(key) or []]}
