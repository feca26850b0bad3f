from django.urls import path

from chargepoints.bluecurrent.consumer import BlueCurrentConsumer

websocket_urlpatterns = [
    path("haserver", BlueCurrentConsumer.as_asgi()),
]
