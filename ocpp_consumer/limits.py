"""Numbers the schemas allow but the central system cannot store or should not act on
(issue 16): integers beyond OCPP's 32-bit integer, readings too large for a meter
register, and connector or EVSE numbers below 0 or above MAX_CONNECTOR_ID (a charger
reporting connector 999999 would otherwise create it). Checked after the schema, before
any handler, so a bad frame answers a CALLERROR and changes nothing."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError, TypeConstraintViolationError

INT32 = (-(2**31), 2**31 - 1)
MAX_CONNECTOR_ID = 100
MAX_READING = Decimal(10) ** 15  # 1 TWh in Wh; anything larger is not a meter reading
_CONNECTOR_KEYS = {"connectorId", "evseId"}


def check(payload: Any) -> None:
    """Raise the matching OCPPError for the first number out of range."""
    _walk(payload, "", "")


def _walk(value: Any, key: str, path: str) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _walk(item, name, f"{path}.{name}" if path else name)
            if key == "evse" and name == "id":
                _connector_number(item, f"{path}.id")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, key, f"{path}[{index}]")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT32[0] <= value <= INT32[1]:
            raise TypeConstraintViolationError(description=f"{path}: integer out of range", details={"path": path})
        if key in _CONNECTOR_KEYS:
            _connector_number(value, path)
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= MAX_READING:
            raise TypeConstraintViolationError(description=f"{path}: number out of range", details={"path": path})
    elif isinstance(value, str) and key == "value" and "sampledValue" in path:
        _reading(value, path)


def _connector_number(value: Any, path: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_CONNECTOR_ID:
        raise PropertyConstraintViolationError(
            description=f"{path}: {value} is not a connector or EVSE number (0-{MAX_CONNECTOR_ID})",
            details={"path": path},
        )


def _reading(text: str, path: str) -> None:
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return  # not a decimal (signed data): the handler decides
    if not number.is_finite() or abs(number) >= MAX_READING:
        raise PropertyConstraintViolationError(description=f"{path}: reading out of range", details={"path": path})
