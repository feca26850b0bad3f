from django.urls import path

from bluecurrent.consumer import BlueCurrentConsumer

websocket_urlpatterns = [
    path("haserver", BlueCurrentConsumer.as_asgi()),
]
