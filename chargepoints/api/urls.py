from django.urls import path

from chargepoints.api import views

urlpatterns = [
    path("devices/by-location", views.DevicesByLocationApi.as_view(), name="driver-devices-by-location"),
]
