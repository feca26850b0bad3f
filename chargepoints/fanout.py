"""Live state fan-out: `cp.state` messages to the Channels group `cp.<identity>`.

Services call `publish_state()` from `transaction.on_commit`, so subscribers never see
a state that was rolled back. Inside the OCPP consumer the states are collected instead
and sent from the event loop without holding up the answer to the charger; everywhere
else (admin, Celery, API views) they are sent at once.

group_send is only used for this fan-out; commands to chargers use a direct channel send.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from channels.layers import get_channel_layer

from accounts.channel_layer import REDIS_ERRORS, group_send_or_skip
from accounts.outages import redis_outage

_local = threading.local()
_GROUP_UNSAFE = re.compile(r"[^0-9A-Za-z_.\-]")


def group_name(identity: str) -> str:
    """The group of one charge point. Channels group names allow only [A-Za-z0-9_.-]."""
    return "cp." + _GROUP_UNSAFE.sub("_", identity)[:90]


def state_message(
    *,
    identity: str,
    connector_id: int,
    status: str,
    power_w: int | None = None,
    meter_wh: int | None = None,
    soc: int | None = None,
    **extra,
) -> dict:
    return {
        "identity": identity,
        "connector_id": connector_id,
        "status": status,
        "power_w": power_w,
        "meter_wh": meter_wh,
        "soc": soc,
        **extra,
    }


def publish_state(state: dict) -> None:
    collector = getattr(_local, "collector", None)
    if collector is not None:
        collector.append(state)
        return
    try:  # a dashboard update must never break a domain write; skipped while Redis is down
        group_send_or_skip(group_name(state["identity"]), {"type": "cp.state", **state})
    except Exception:
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


def _signature(state: dict) -> tuple:
    """What makes a state worth sending at once: anything but the live readings."""
    return tuple(sorted((k, repr(v)) for k, v in state.items() if k not in _READINGS))


_READINGS = frozenset({"power_w", "meter_wh", "soc", "at"})


class _Coalescer:
    """Per event loop: the latest cp.state per (identity, connector) not sent yet.

    A state whose status (anything but the live readings) changed goes out at once; a
    readings-only update goes out at most once per OCPP_STATE_FANOUT_INTERVAL per
    connector, and the last one held back is always sent at the next tick."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.sent: dict[tuple, tuple[float, tuple]] = {}  # key -> (when, signature)
        self.held: dict[tuple, dict] = {}
        self.ticker: asyncio.Task | None = None

    def due(self, states: list[dict]) -> list[dict]:
        now = time.monotonic()
        out = []
        for key, state in _latest(states).items():
            signature = _signature(state)
            last = self.sent.get(key)
            if last is None or last[1] != signature or now - last[0] >= self.interval:
                self.sent[key] = (now, signature)
                self.held.pop(key, None)
                out.append(state)
            else:
                self.held[key] = state
        if self.held and (self.ticker is None or self.ticker.done()):
            self.ticker = asyncio.get_running_loop().create_task(self._tick())
        return out

    async def _tick(self) -> None:
        while self.held:
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            ready = [key for key in self.held if now - self.sent[key][0] >= self.interval]
            states = [self.held.pop(key) for key in ready]
            for key, state in zip(ready, states):
                self.sent[key] = (now, _signature(state))
            await _send(states)


_coalescers: dict[int, _Coalescer] = {}


def _latest(states: list[dict]) -> dict[tuple, dict]:
    latest: dict[tuple, dict] = {}
    for state in states:
        latest[(state["identity"], state["connector_id"])] = state
    return latest


async def publish_many_async(states: list[dict]) -> None:
    """Send collected states, the latest per (identity, connector) only, coalescing
    readings-only updates per connector (see _Coalescer)."""
    if not states:
        return
    from django.conf import settings

    interval = settings.OCPP_STATE_FANOUT_INTERVAL
    if interval > 0:
        key = id(asyncio.get_running_loop())
        coalescer = _coalescers.get(key)
        if coalescer is None:
            coalescer = _coalescers[key] = _Coalescer(interval)
        states = coalescer.due(states)
    else:
        states = list(_latest(states).values())
    await _send(states)


async def _send(states: list[dict]) -> None:
    if not states:
        return
    layer = get_channel_layer()
    if layer is None or redis_outage.should_skip():
        return
    try:
        for state in await _with_members(layer, states):
            try:
                await layer.group_send(group_name(state["identity"]), {"type": "cp.state", **state})
            except REDIS_ERRORS:
                raise
            except Exception:
                logging.getLogger(__name__).warning("cp.state fan-out failed", exc_info=True)
    except REDIS_ERRORS as error:
        redis_outage.failed(error)  # (the states of an outage are dropped: they are live views)
        return
    redis_outage.succeeded()


async def _with_members(layer, states: list[dict]) -> list[dict]:
    """The states whose group has at least one member. On channels-redis one pipelined
    ZCARD per Redis shard answers that for the whole batch, where group_send would cost
    two round trips per group even when nobody listens (most chargers, most of the time).
    A member that joins between the check and the next state misses only this one."""
    if not hasattr(layer, "_group_key") or not hasattr(layer, "consistent_hash") or len(states) < 2:
        return states
    try:
        by_shard: dict[int, list[dict]] = {}
        for state in states:
            by_shard.setdefault(layer.consistent_hash(group_name(state["identity"])), []).append(state)
        out = []
        for shard, shard_states in by_shard.items():
            pipe = layer.connection(shard).pipeline(transaction=False)
            for state in shard_states:
                pipe.zcard(layer._group_key(group_name(state["identity"])))
            counts = await pipe.execute()
            out += [state for state, count in zip(shard_states, counts) if count]
        return out
    except REDIS_ERRORS:
        raise
    except Exception:
        logging.getLogger(__name__).warning("cp.state membership check failed; sending to all", exc_info=True)
        return states
