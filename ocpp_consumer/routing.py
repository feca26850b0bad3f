"""WebSocket routes of the OCPP area: /ocpp/<charge point id> (a trailing slash tolerated)."""
from django.urls import re_path

from ocpp_consumer.consumer import OcppConsumer

websocket_urlpatterns: list = [
    re_path(r"^ocpp/(?P<charge_point_id>[^/]+)/?$", OcppConsumer.as_asgi()),
]
