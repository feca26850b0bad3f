"""WebSocket routes of every area."""
from ocpp_consumer.routing import websocket_urlpatterns as ocpp_routes

websocket_urlpatterns: list = [*ocpp_routes]

from accounts.routing import websocket_urlpatterns as driver_event_routes  # noqa: E402

websocket_urlpatterns += driver_event_routes

from chargepoints.portal_consumers import websocket_urlpatterns as portal_routes  # noqa: E402

websocket_urlpatterns += portal_routes

from chargepoints.bluecurrent.routing import websocket_urlpatterns as bluecurrent_routes  # noqa: E402

websocket_urlpatterns += bluecurrent_routes
