"""The portal's live channel: /ws/portal/ for logged-in staff.

It joins the `cp.<identity>` groups of the chargers the user may see (all of the
operator's, the one named by `?cp=<identity>`, or those of the site `?site=<id>`) and forwards every `cp.state` message
as JSON. Pages re-fetch their live fragment when told something changed, so the socket
carries only small notices and the database stays the single source of truth.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from accounts.channel_layer import ResilientChannelsMixin

# Subscribing costs one Redis round trip per charger; beyond this a page should ask for
# one charger with ?cp=.
MAX_SUBSCRIPTIONS = 5000


@database_sync_to_async
def _identities(user, wanted: str | None, site: str | None = None) -> list[str]:
    from portal.selectors import charge_point_qs, scope_for

    qs = charge_point_qs(scope=scope_for(user))
    if wanted:
        qs = qs.filter(identity=wanted)
    if site:
        qs = qs.filter(site_id=int(site)) if site.isdigit() else qs.none()
    return list(qs.order_by("identity").values_list("identity", flat=True)[:MAX_SUBSCRIPTIONS])


async def _display(event: dict) -> dict:
    """The connector status as the portal shows it (a charging OCPP 2.0.1 connector reads
    Charging, not Occupied), with the status the charger reported kept alongside. A state
    that carries its session's charging state needs no query; a bare Occupied (a
    StatusNotification) looks its active session up."""
    from chargepoints.models import ConnectorStatus
    from portal.selectors import connector_display_status_get
    from sessions_app.selectors import connector_display_status

    status = event.get("status") or ""
    connector_id = event.get("connector_id") or 0
    if connector_id == 0 or status != ConnectorStatus.OCCUPIED:
        return {}
    if "charging_state" in event:
        active = event.get("session_status") == "active"
        shown = connector_display_status(status=status, charging_state=event["charging_state"] if active else None)
    else:
        shown = await database_sync_to_async(connector_display_status_get)(
            identity=event.get("identity", ""), connector_id=connector_id, status=status
        )
    return {"status": shown, "reported_status": status}


class PortalConsumer(ResilientChannelsMixin, AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4403)
            return
        from chargepoints.fanout import group_name

        query = parse_qs(self.scope.get("query_string", b"").decode())
        wanted = (query.get("cp") or [None])[0]
        site = (query.get("site") or [None])[0]
        for identity in await _identities(user, wanted, site):
            await self.join_group(group_name(identity))
        await self.accept()
        await self.send_json({"type": "hello", "subscribed": len(self.joined_groups)})

    async def disconnect(self, code: int) -> None:
        await self.leave_all_groups()

    async def receive_json(self, content, **kwargs) -> None:
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def cp_state(self, event: dict) -> None:
        await self.send_json({**event, **await _display(event), "type": "cp.state"})


websocket_urlpatterns = [
    # Session auth from the cookie; the origin check stops other sites from opening the
    # socket with a staff member's cookie.
    path("ws/portal/", AllowedHostsOriginValidator(AuthMiddlewareStack(PortalConsumer.as_asgi()))),
]
