"""WebSocket routes of every area."""

from bluecurrent.routing import websocket_urlpatterns as bluecurrent_routes
from drivers.routing import websocket_urlpatterns as driver_event_routes
from ocpp_consumer.routing import websocket_urlpatterns as ocpp_routes
from portal.consumers import websocket_urlpatterns as portal_routes

websocket_urlpatterns: list = [*ocpp_routes, *driver_event_routes, *portal_routes, *bluecurrent_routes]
