"""The OCPP 2.0.1 device model of a charger: components, variables and their attributes.

NotifyReport (the answer to GetBaseReport / GetReport) arrives in parts; every attribute
becomes one DeviceVariable row, upserted, so a repeated report refreshes values. Operators
read it through the selectors below, and the 1.6 -> 2.0.1 command translation uses it to
turn configuration keys into component/variable pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F, Max, QuerySet
from django.utils import timezone

from chargepoints.models import (
    ChargePoint,
    ChargePointEvent,
    Connector,
    ConnectorStatus,
    ConnectorStatusChange,
    DeviceVariable,
    Evse,
)

_KEY_FIELDS = [
    "charge_point",
    "component_name",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable_name",
    "variable_instance",
    "attribute_type",
]
_VALUE_FIELDS = [
    "value",
    "mutability",
    "persistent",
    "constant",
    "data_type",
    "unit",
    "values_list",
    "updated_at",
]


# --- EVSEs and connectors -----------------------------------------------------------------


def connector_for_evse(*, charge_point_id: int, evse_id: int, evse_connector_id: int = 1) -> Connector:
    """The connector a 2.0.1 charger addresses as (evseId, connectorId), created the first
    time it is mentioned. Our public connector number is the evseId when the EVSE has one
    plug (as for 1.6 chargers), otherwise the next free number."""
    connector = Connector.objects.filter(
        charge_point_id=charge_point_id, evse__evse_id=evse_id, evse_connector_id=evse_connector_id
    ).first()
    if connector is not None:
        return connector
    try:
        with transaction.atomic():
            evse, _ = Evse.objects.get_or_create(charge_point_id=charge_point_id, evse_id=evse_id)
            taken = Connector.objects.filter(charge_point_id=charge_point_id)
            number = evse_id
            if evse_connector_id != 1 or taken.filter(connector_id=number).exists():
                number = (taken.aggregate(m=Max("connector_id"))["m"] or 0) + 1
            return Connector.objects.create(
                charge_point_id=charge_point_id,
                evse=evse,
                connector_id=number,
                evse_connector_id=evse_connector_id,
                status=ConnectorStatus.AVAILABLE,
                status_updated_at=timezone.now(),
            )
    except IntegrityError:  # created concurrently
        return Connector.objects.get(
            charge_point_id=charge_point_id, evse__evse_id=evse_id, evse_connector_id=evse_connector_id
        )


@transaction.atomic
def connector_status_update(
    *, charge_point_id: int, evse_id: int, evse_connector_id: int, status: str, at=None
) -> Connector | None:
    """A 2.0.1 StatusNotification: the connector's availability only. Unlike 1.6, the
    charging state of a session comes from TransactionEvent, never from this status."""
    from chargepoints.services import connector_update_status

    connector = connector_for_evse(
        charge_point_id=charge_point_id, evse_id=evse_id, evse_connector_id=evse_connector_id
    )
    return connector_update_status(
        charge_point_id=charge_point_id, connector_id=connector.connector_id, status=status, at=at
    )


def connector_status_update_many(*, items: list[dict]) -> list[Connector]:
    """connector_status_update for many 2.0.1 StatusNotifications (of many chargers) at
    once, as one by one in order: one SELECT finds the connectors by (evseId, connectorId),
    then chargepoints.services.connector_update_status_many writes them (one INSERT of
    status history, one UPDATE). A connector not known yet is created as one by one.

    Each item: charge_point_id, evse_id, evse_connector_id, status, at, and optionally
    identity (the charger's, saves a query). Returns the connectors, in order."""
    from chargepoints.services import connector_update_status_many, connectors_with_history_flag

    if not items:
        return []
    with transaction.atomic(savepoint=False):
        by_address = {
            (c.charge_point_id, c.evse_number, c.evse_connector_id): c
            for c in connectors_with_history_flag(
                charge_point_ids={item["charge_point_id"] for item in items}
            ).annotate(evse_number=F("evse__evse_id"))
        }
        updates = []
        for item in items:
            address = (item["charge_point_id"], item["evse_id"], item["evse_connector_id"])
            connector = by_address.get(address)
            if connector is None:  # (its first mention: created, as one by one)
                connector = connector_for_evse(
                    charge_point_id=item["charge_point_id"],
                    evse_id=item["evse_id"],
                    evse_connector_id=item["evse_connector_id"],
                )
                connector.has_history = ConnectorStatusChange.objects.filter(connector=connector).exists()
                by_address[address] = connector
            updates.append(
                {
                    "charge_point_id": item["charge_point_id"],
                    "connector_id": connector.connector_id,
                    "connector": connector,
                    "status": item["status"],
                    "at": item.get("at"),
                    "identity": item.get("identity"),
                }
            )
        return connector_update_status_many(items=updates)


def connector_address(*, charge_point_id: int, connector_id: int) -> tuple[int, int] | None:
    """(evseId, connectorId) of one of our connector numbers, None when unknown."""
    row = (
        Connector.objects.filter(charge_point_id=charge_point_id, connector_id=connector_id)
        .values_list("evse__evse_id", "evse_connector_id")
        .first()
    )
    return tuple(row) if row else None


def evse_address(*, charge_point_id: int, connector_id: int) -> tuple[int, int]:
    """(evseId, connectorId) of one of our connector numbers for an OCPP 2.0.1 call:
    (0, 0) for connector 0 (the station itself), (n, 1) when connector n is not known
    yet (EVSE n with one connector, the common layout)."""
    if not connector_id:
        return 0, 0
    return connector_address(charge_point_id=charge_point_id, connector_id=connector_id) or (connector_id, 1)


# --- NotifyReport ---------------------------------------------------------------------------


def _rows_from_report(charge_point_id: int, report_data: Iterable[dict]) -> list[DeviceVariable]:
    rows = []
    for item in report_data:
        component, variable = item["component"], item["variable"]
        evse = component.get("evse") or {}
        characteristics = item.get("variableCharacteristics") or {}
        for attribute in item.get("variableAttribute", []):
            rows.append(
                DeviceVariable(
                    charge_point_id=charge_point_id,
                    component_name=component["name"][:50],
                    component_instance=component.get("instance", "")[:50],
                    evse_id=evse.get("id", 0),
                    connector_id=evse.get("connectorId", 0),
                    variable_name=variable["name"][:50],
                    variable_instance=variable.get("instance", "")[:50],
                    attribute_type=attribute.get("type", "Actual"),
                    value=attribute.get("value"),
                    mutability=attribute.get("mutability", "ReadWrite"),
                    persistent=attribute.get("persistent", False),
                    constant=attribute.get("constant", False),
                    data_type=characteristics.get("dataType", ""),
                    unit=characteristics.get("unit", "")[:16],
                    values_list=characteristics.get("valuesList", "")[:1000],
                    updated_at=timezone.now(),
                )
            )
    return rows


@transaction.atomic
def device_report_store(
    *, charge_point_id: int, request_id: int, seq_no: int, report_data: list[dict] | None, tbc: bool = False
) -> int:
    """Upsert one NotifyReport part; returns how many attributes it carried."""
    rows = _rows_from_report(charge_point_id, report_data or [])
    # One row per key: a report may repeat an attribute; the last one wins.
    unique = {tuple(getattr(r, f if f != "charge_point" else "charge_point_id") for f in _KEY_FIELDS): r for r in rows}
    DeviceVariable.objects.bulk_create(
        list(unique.values()), update_conflicts=True, unique_fields=_KEY_FIELDS, update_fields=_VALUE_FIELDS
    )
    if not tbc:
        ChargePointEvent.objects.create(
            charge_point_id=charge_point_id,
            kind="device_report",
            message=f"Device model report {request_id} complete",
            payload={"requestId": request_id, "lastSeqNo": seq_no},
        )
    return len(rows)


@transaction.atomic
def device_variable_set_values(*, charge_point_id: int, results: Iterable[dict]) -> None:
    """Remember values a charger reported (GetVariables) or accepted (SetVariables).

    Each result is {"component": {...}, "variable": {...}, "attributeType", "value"}.
    """
    for result in results:
        component, variable = result["component"], result["variable"]
        evse = component.get("evse") or {}
        DeviceVariable.objects.update_or_create(
            charge_point_id=charge_point_id,
            component_name=component["name"][:50],
            component_instance=component.get("instance", "")[:50],
            evse_id=evse.get("id", 0),
            connector_id=evse.get("connectorId", 0),
            variable_name=variable["name"][:50],
            variable_instance=variable.get("instance", "")[:50],
            attribute_type=result.get("attributeType") or "Actual",
            defaults={"value": result.get("value")},
        )


@transaction.atomic
def device_events_store(*, charge_point_id: int, event_data: list[dict]) -> None:
    """NotifyEvent: keep each event for an operator and the reported value in the device model."""
    for event in event_data:
        component, variable = event["component"], event["variable"]
        name = f"{component['name']}.{variable['name']}"
        problem = event.get("trigger") == "Alerting" or event.get("eventNotificationType") == "HardWiredNotification"
        ChargePointEvent.objects.create(
            charge_point_id=charge_point_id,
            kind="notify_event",
            severity=ChargePointEvent.Severity.WARNING if problem else ChargePointEvent.Severity.INFO,
            message=f"{name} = {event.get('actualValue', '')} ({event.get('trigger', '')})"[:500],
            payload=event,
        )
        device_variable_set_values(
            charge_point_id=charge_point_id,
            results=[
                {
                    "component": component,
                    "variable": variable,
                    "attributeType": "Actual",
                    "value": event.get("actualValue"),
                }
            ],
        )


# --- reads for operators ---------------------------------------------------------------------


def device_variable_list(
    *, charge_point: ChargePoint | int, component_name: str | None = None
) -> QuerySet[DeviceVariable]:
    qs = DeviceVariable.objects.filter(charge_point=charge_point)
    if component_name is not None:
        qs = qs.filter(component_name=component_name)
    return qs.order_by(
        "component_name",
        "component_instance",
        "evse_id",
        "connector_id",
        "variable_name",
        "variable_instance",
        "attribute_type",
    )


def device_model_tree(*, charge_point: ChargePoint | int) -> dict[str, dict[str, dict]]:
    """{"Component[instance][@evse[.connector]]": {"Variable[instance]": {attributeType: value, ...}}}
    for an operator page or API."""
    tree: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in device_variable_list(charge_point=charge_point):
        component = row.component_name + (f"[{row.component_instance}]" if row.component_instance else "")
        if row.evse_id:
            component += f"@{row.evse_id}" + (f".{row.connector_id}" if row.connector_id else "")
        variable = row.variable_name + (f"[{row.variable_instance}]" if row.variable_instance else "")
        entry = tree[component].setdefault(variable, {"mutability": row.mutability, "unit": row.unit})
        entry[row.attribute_type] = row.value
    return dict(tree)


def device_variable_find(
    *, charge_point_id: int, component_name: str, variable_name: str, attribute_type: str = "Actual"
) -> DeviceVariable | None:
    """The charger-wide attribute of a variable (EVSE-specific ones only when no wide one exists)."""
    return (
        DeviceVariable.objects.filter(
            charge_point_id=charge_point_id,
            component_name=component_name,
            variable_name=variable_name,
            attribute_type=attribute_type,
        )
        .order_by("evse_id", "connector_id", "component_instance", "variable_instance")
        .first()
    )
