from django.urls import path

from drivers.consumers import DriverEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", DriverEventsConsumer.as_asgi()),
]
