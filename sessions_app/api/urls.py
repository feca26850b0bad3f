from django.urls import path

from sessions_app.api import views

urlpatterns = [
    path("devices/<str:device_id>/start", views.DeviceStartApi.as_view(), name="driver-device-start"),
    path("devices/<str:device_id>/finish", views.DeviceFinishApi.as_view(), name="driver-device-finish"),
]
