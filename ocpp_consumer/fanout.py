"""Live state fan-out: `cp.state` messages to the Channels group `cp.<identity>`.

Services call `publish_state()` from `transaction.on_commit`, so subscribers never see
a state that was rolled back. Inside the OCPP consumer the states are collected instead
and sent from the event loop without holding up the answer to the charger; everywhere
else (admin, Celery, API views) they are sent at once.

group_send is only used for this fan-out; commands to chargers use a direct channel send.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from typing import Iterator

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

_local = threading.local()
_GROUP_UNSAFE = re.compile(r"[^0-9A-Za-z_.\-]")


def group_name(identity: str) -> str:
    """The group of one charge point. Channels group names allow only [A-Za-z0-9_.-]."""
    return "cp." + _GROUP_UNSAFE.sub("_", identity)[:90]


def state_message(
    *, identity: str, connector_id: int, status: str, power_w: int | None = None,
    meter_wh: int | None = None, soc: int | None = None, **extra,
) -> dict:
    return {
        "identity": identity, "connector_id": connector_id, "status": status,
        "power_w": power_w, "meter_wh": meter_wh, "soc": soc, **extra,
    }


def publish_state(state: dict) -> None:
    collector = getattr(_local, "collector", None)
    if collector is not None:
        collector.append(state)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(state["identity"]), {"type": "cp.state", **state})
    except Exception:  # a dashboard update must never break a domain write
        import logging

        logging.getLogger(__name__).warning("cp.state fan-out failed", exc_info=True)


@contextmanager
def collecting() -> Iterator[list[dict]]:
    """Collect the states published in this thread instead of sending them."""
    previous = getattr(_local, "collector", None)
    _local.collector = states = []
    try:
        yield states
    finally:
        _local.collector = previous


async def publish_many_async(states: list[dict]) -> None:
    """Send collected states, the latest per (identity, connector) only."""
    if not states:
        return
    layer = get_channel_layer()
    latest: dict[tuple, dict] = {}
    for state in states:
        latest[(state["identity"], state["connector_id"])] = state
    for state in latest.values():
        try:
            await layer.group_send(group_name(state["identity"]), {"type": "cp.state", **state})
        except Exception:
            import logging

            logging.getLogger(__name__).warning("cp.state fan-out failed", exc_info=True)
