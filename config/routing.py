"""WebSocket routes of every area."""
from ocpp_consumer.routing import websocket_urlpatterns as ocpp_routes

websocket_urlpatterns: list = [*ocpp_routes]
