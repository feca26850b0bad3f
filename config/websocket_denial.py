"""Refuse a WebSocket handshake with an HTTP status of our choosing (503 during an outage).

ASGI's "websocket.http.response" extension lets an application answer a handshake with a
plain HTTP response instead of accepting it; daphne 4 does not implement it, and answers
every refusal 403 and every failure 500. `install()` teaches daphne's WebSocket protocol
the extension's two messages (the status goes out through autobahn's ConnectionDeny, the
body is not sent), and `DenialResponseMiddleware` advertises the extension in the scope,
so consumers use it only where the server has it (accounts.channel_layer.refuse_handshake).
"""

from __future__ import annotations

from http import HTTPStatus

EXTENSION = "websocket.http.response"


def install() -> bool:
    """Patch daphne (when it is the server) once; True if the extension is available."""
    try:
        from autobahn.websocket.types import ConnectionDeny
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # (another ASGI server: it implements the extension, or not)
        return False
    if getattr(WebSocketProtocol, "_csms_denial", False):
        return True
    original = WebSocketProtocol.handle_reply

    def handle_reply(self, message):
        kind = message.get("type")
        if kind == "websocket.http.response.start" and self.state == self.STATE_CONNECTING:
            status = int(message.get("status", 403))
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Refused"
            self.handshake_deferred.errback(ConnectionDeny(code=status, reason=reason))
            return None
        if kind == "websocket.http.response.body":
            return None  # (autobahn sends its own short body with the status)
        return original(self, message)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol._csms_denial = True
    return True


class DenialResponseMiddleware:
    """Adds the extension to every WebSocket scope (only used where install() succeeded)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), EXTENSION: {}}}
        return await self.app(scope, receive, send)
