from django.urls import path

from accounts.consumers import DriverEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", DriverEventsConsumer.as_asgi()),
]
