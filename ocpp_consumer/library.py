"""Every use of the `ocpp` package's private internals, in one place.

The consumer feeds frames to the library itself (it owns the socket), so it needs a few
things the package keeps private: the queue its calls wait on for replies, its one-call
lock, its wait for a specific reply, the handler table its @on decorators fill, and the
connection object. Nothing else in the project touches them; tests/ocpp_consumer/
test_library.py fails loudly if a new release of the pinned package changes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.charge_point import ChargePoint
from ocpp.messages import CallError, CallResult


def deliver_reply(charge_point: ChargePoint, reply: CallResult | CallError) -> None:
    """Hand a charger's CALLRESULT/CALLERROR to the call waiting for it."""
    charge_point._response_queue.put_nowait(reply)


def drop_stale_replies(charge_point: ChargePoint) -> None:
    """Forget replies nobody waits for any more (their caller gave up)."""
    queue = charge_point._response_queue
    while not queue.empty():
        queue.get_nowait()


def call_lock(charge_point: ChargePoint) -> asyncio.Lock:
    """OCPP allows one outstanding CALL per direction: the library's lock for ours."""
    return charge_point._call_lock


def wait_for_reply(charge_point: ChargePoint, unique_id: str, timeout: float) -> Awaitable[CallResult | CallError]:
    return charge_point._get_specific_response(unique_id, timeout)


def handler_for(charge_point: ChargePoint, action: str) -> Callable[..., Awaitable[Any]] | None:
    """The @on(action) handler of this charge point class, or None."""
    handlers = charge_point.route_map.get(action)
    if handlers is None:
        return None
    return handlers.get("_on_action")


def connection_of(charge_point: ChargePoint) -> Any:
    """The connection object the charge point was built with (the simulator's websocket)."""
    return charge_point._connection
