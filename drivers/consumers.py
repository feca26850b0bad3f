"""The driver event stream: /ws/events/?token=<driver token> (or an Authorization header).

Each connection joins the group `driver.<user id>`; payments.events.emit sends
{"type": "driver.event", "kind", "data"} there, and the app receives
{"topic": "<topic>.<KIND>", "data": {...}} - the same subject and body as on NATS.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import DriverTokenAuthentication
from accounts.channel_layer import ResilientChannelsMixin
from drivers.events import driver_topic, event_data

# 4401: the WebSocket counterpart of HTTP 401 (application close codes are 4000-4999).
CLOSE_UNAUTHORIZED = 4401
# Invalid JSON (or nested past the recursion limit): 1007 (invalid frame payload data) is
# the code, but daphne lets applications send only 1000 and 3000-4999, so 4007 mirrors it.
CLOSE_INVALID_DATA = 4007
_UNREADABLE = object()


def _token_from_scope(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode(errors="replace").split()
            if len(parts) == 2 and parts[0].lower() in DriverTokenAuthentication.keywords:
                return parts[1]
    return None


@database_sync_to_async
def _driver_for(raw: str):
    try:
        user, _ = DriverTokenAuthentication().authenticate_token(raw)
    except AuthenticationFailed:
        return None
    return user if user.is_driver else None


def driver_group(user_id: int) -> str:
    return f"driver.{user_id}"


class DriverEventsConsumer(ResilientChannelsMixin, AsyncJsonWebsocketConsumer):
    async def connect(self):
        raw = _token_from_scope(self.scope)
        user = await _driver_for(raw) if raw else None
        if user is None:
            # Accept then close, so the client sees a close code rather than a bare 403.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.user_id = user.pk
        self.group = driver_group(user.pk)
        await self.join_group(self.group)
        await self.accept()

    async def disconnect(self, code):
        await self.leave_all_groups()

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):
            return _UNREADABLE

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        content = await self.decode_json(text_data) if text_data else _UNREADABLE
        if content is _UNREADABLE:
            await self.close(code=CLOSE_INVALID_DATA)
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a ping is answered so apps can check the connection.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def driver_event(self, message):
        await self.send_json(
            {
                "topic": f"{driver_topic(self.user_id)}.{message['kind']}",
                "data": event_data(message.get("data") or {}),
            }
        )
