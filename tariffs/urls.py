"""Operator portal pages for tariffs and hourly prices."""
from django.urls import path

from tariffs import views

urlpatterns = [
    path("tariffs/", views.tariff_overview, name="portal-tariffs"),
    path("tariffs/import/", views.prices_import, name="portal-prices-import"),
    path("tariffs/generate/", views.prices_generate, name="portal-prices-generate"),
]
