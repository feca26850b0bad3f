"""OCPP.Core's /API/Payments/ reservation endpoints (seed 004), wired by config/urls.py."""

from django.urls import path

from operator_api import payments

urlpatterns = [
    path("Create", payments.ReservationCreateApi.as_view(), name="operator-payments-create"),
    path("Confirm", payments.ReservationConfirmApi.as_view(), name="operator-payments-confirm"),
    path("Cancel", payments.ReservationCancelApi.as_view(), name="operator-payments-cancel"),
]
