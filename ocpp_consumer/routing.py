"""WebSocket routes of the OCPP area: /ocpp/<charge point id> (a trailing slash tolerated)."""

from django.urls import re_path

from ocpp_consumer.consumer import OcppConsumer

websocket_urlpatterns: list = [
    # Anything under ocpp/ reaches the consumer, which refuses an id that breaks the identity
    # rule (a "/" decoded from %2F included) with a 403 instead of a routing error (500).
    re_path(r"^ocpp/(?P<charge_point_id>.+?)/?$", OcppConsumer.as_asgi()),
]
