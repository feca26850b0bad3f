"""Redis outages, as every user of the channel layer lives through them.

While Redis is down the chargers' sockets stay open and their frames are answered (that
needs only the database); what needs Redis (commands, live fan-out, the socket registry,
group subscriptions) fails fast with a clear answer and comes back by itself. Two pieces
make that true everywhere:

- `redis_outage`, one per process: remembers that Redis failed, tells callers to skip
  Redis for a short back-off (so a burst of frames does not pay one connect attempt
  each), and logs one line when an outage starts and one when it ends, never one per
  failed call.
- `ResilientChannelsMixin`, for Channels consumers: the channel-layer receive loop waits
  and retries instead of raising (which closed the socket with 1011), and when Redis
  answers again the consumer re-joins its groups and re-registers
  (`channel_layer_recovered`): a restarted Redis has forgotten both.
"""

from __future__ import annotations

import asyncio
import logging

import redis.exceptions
from asgiref.sync import async_to_sync
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from accounts.outages import redis_outage

logger = logging.getLogger(__name__)

# What "Redis is unavailable" looks like to a client: refused or dropped connections,
# timeouts, a server still loading its data set (a subclass of ConnectionError).
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    OSError,
)
RECEIVE_RETRY_FIRST_S = 0.5
RECEIVE_RETRY_MAX_S = 2.0


class RedisUnavailable(Exception):
    """Redis did not answer (or failed a moment ago): the call was not made."""


def group_send_or_skip(group: str, message: dict) -> bool:
    """group_send from synchronous code, skipped while Redis is down; True if sent."""
    layer = get_channel_layer()
    if layer is None or redis_outage.should_skip():
        return False
    try:
        async_to_sync(layer.group_send)(group, message)
    except REDIS_ERRORS as error:
        redis_outage.failed(error)
        return False
    redis_outage.succeeded()
    return True


class ResilientChannelsMixin:
    """For AsyncConsumer subclasses: survive a channel-layer (Redis) outage.

    Join groups with `join_group()` (not `channel_layer.group_add`) so they are joined
    again when Redis returns; override `channel_layer_recovered()` for more (the OCPP
    consumer re-registers its socket)."""

    joined_groups: set[str]

    async def __call__(self, scope, receive, send):
        # channels.consumer.AsyncConsumer.__call__, with the channel layer's receive
        # wrapped so that a Redis error waits and retries instead of ending the consumer.
        self.scope = scope
        self.joined_groups = set()
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = self._channel_receive
        self.base_send = send
        try:
            if self.channel_layer is not None:
                await await_many_dispatch([receive, self.channel_receive], self.dispatch)
            else:
                await await_many_dispatch([receive], self.dispatch)
        except StopConsumer:
            pass

    async def _channel_receive(self) -> dict:
        delay = RECEIVE_RETRY_FIRST_S
        while True:
            try:
                return await self.channel_layer.receive(self.channel_name)
            except REDIS_ERRORS as error:
                redis_outage.failed(error)
            # Wait, then rebuild what Redis may have lost before listening again (if it is
            # still down, the next receive fails at once and we wait longer).
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECEIVE_RETRY_MAX_S)
            try:
                if await self.channel_layer_recovered():
                    redis_outage.succeeded()
            except RedisUnavailable:
                pass
            except REDIS_ERRORS as error:
                redis_outage.failed(error)

    async def channel_layer_recovered(self) -> bool:
        """Redis may answer again: re-join this consumer's groups. Raises while Redis is
        down; returns whether Redis was reached."""
        for group in sorted(self.joined_groups):
            await self.channel_layer.group_add(group, self.channel_name)
        return bool(self.joined_groups)

    async def join_group(self, group: str) -> None:
        """group_add that is remembered, and retried when Redis returns if it fails now."""
        self.joined_groups.add(group)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except REDIS_ERRORS as error:
            redis_outage.failed(error)

    async def leave_group(self, group: str) -> None:
        self.joined_groups.discard(group)
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except REDIS_ERRORS as error:
            redis_outage.failed(error)

    async def leave_all_groups(self) -> None:
        for group in sorted(self.joined_groups):
            await self.leave_group(group)


async def refuse_handshake(consumer, status: int) -> None:
    """Refuse a WebSocket handshake with an HTTP `status` (503: come back later) where the
    server supports ASGI's websocket.http.response extension (config/websocket_denial.py
    adds it to daphne), else the standard refusal (403)."""
    if "websocket.http.response" in (consumer.scope.get("extensions") or {}):
        await consumer.base_send({"type": "websocket.http.response.start", "status": status, "headers": []})
        await consumer.base_send({"type": "websocket.http.response.body", "body": b""})
    else:
        await consumer.close()
