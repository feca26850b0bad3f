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
from drivers.events import driver_topic, event_data

# 4401: the WebSocket counterpart of HTTP 401 (application close codes are 4000-4999).
CLOSE_UNAUTHORIZED = 4401


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


class DriverEventsConsumer(AsyncJsonWebsocketConsumer):
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
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a ping is answered so apps can check the connection.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def driver_event(self, message):
        await self.send_json({
            "topic": f"{driver_topic(self.user_id)}.{message['kind']}",
            "data": event_data(message.get("data") or {}),
        })
