"""Driver events as the app sees them: "<topic>.<KIND>" with a JSON object of numbers.

Events are sent with payments.events.emit (the Channels group of the driver plus the
registered hooks, e.g. NATS). The channel layer carries Decimals as strings; the seed's
app expects numbers, so both transports turn money and measurements back into numbers here.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django.conf import settings

CHARGING = "CHARGING"
PAYMENT = "PAYMENT"
REPLENISHMENT = "REPLENISHMENT"

NUMERIC_KEYS = {"amount", "energy", "waitingTime", "newBalance", "balance"}


def driver_topic(user_id: int) -> str:
    return f"{settings.NATS_SUBJECT_PREFIX}.{user_id}"


def event_subject(user_id: int, kind: str) -> str:
    return f"{driver_topic(user_id)}.{kind}"


def _number(value):
    """A JSON number with a fractional part, always (0.0, 10.0): the seed's fields are
    numbers, and typed clients (Dart's `as double`) break on a value that is sometimes 0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except InvalidOperation:
            return value
    return value


def event_data(data: dict) -> dict:
    return {key: (_number(value) if key in NUMERIC_KEYS else value) for key, value in data.items()}


def event_json(data: dict) -> bytes:
    return json.dumps(event_data(data), default=str).encode()


def emit(user_id: int, kind: str, data: dict) -> None:
    from payments.events import emit as payments_emit

    payments_emit(user_id, kind, data)
