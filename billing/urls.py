"""Operator portal pages for drivers, purchases, payments and wallets."""
from django.urls import path

from billing import views

urlpatterns = [
    path("drivers/", views.driver_list, name="portal-drivers"),
    path("purchases/", views.purchase_list, name="portal-purchases"),
    path("payments/", views.payment_list, name="portal-payments"),
    path("wallets/", views.wallet_list, name="portal-wallets"),
    path("wallets/<id:wallet_id>/", views.wallet_detail, name="portal-wallet"),
]
