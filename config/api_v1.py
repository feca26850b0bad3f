"""The driver app's REST API (seed 002), mounted at /api/v1/."""
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("chargepoints.api.urls")),
    path("", include("sessions_app.api.urls")),
    path("", include("billing.api.urls")),
]
