"""The one place payment results leave the payments area.

`emit` sends a Channels message to the driver's group (the driver event stream) and calls
every registered hook (e.g. a NATS publisher). Call it after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from accounts.channel_layer import group_send_or_skip

logger = logging.getLogger(__name__)

PAYMENT = "PAYMENT"
REPLENISHMENT = "REPLENISHMENT"

Hook = Callable[[int, str, dict], None]
_hooks: list[Hook] = []


def register(hook: Hook) -> Hook:
    """Register hook(user_id, kind, data); usable as a decorator. Registering twice is a no-op."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def unregister(hook: Hook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def driver_group(user_id: int) -> str:
    return f"driver.{user_id}"


def _jsonable(data: dict) -> dict:
    # Channel layers serialise with msgpack: Decimal leaves as a string, like in the APIs.
    return {key: (str(value) if isinstance(value, Decimal) else value) for key, value in data.items()}


def emit(user_id: int, kind: str, data: dict) -> None:
    """Deliver one event. A failing transport or hook is logged, never raised: the payment
    itself is already committed."""
    message = {"type": "driver.event", "kind": kind, "data": _jsonable(data)}
    try:
        # (skipped while Redis is down: the event stream is live, the payment is stored)
        group_send_or_skip(driver_group(user_id), message)
    except Exception:
        logger.exception("could not send %s event to driver %s", kind, user_id)
    for hook in list(_hooks):
        try:
            hook(user_id, kind, dict(data))
        except Exception:
            logger.exception("payment event hook %r failed", hook)
