"""Operator portal pages. Included last at the root of config/urls.py."""

from django.contrib.auth import views as auth_views
from django.urls import path

from portal import load_views, money_views, session_views, tariff_views, views

urlpatterns = [
    path("accounts/login/", views.PortalLoginView.as_view(), name="portal-login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="portal-login"), name="portal-logout"),
    path("", views.dashboard, name="portal-dashboard"),
    path("dashboard/live/", views.dashboard_live, name="portal-dashboard-live"),
    path("map/", views.site_map, name="portal-map"),
    path("chargers/", views.charger_list, name="portal-chargers"),
    path("chargers/<str:identity>/", views.charger_detail, name="portal-charger"),
    path("chargers/<str:identity>/live/", views.charger_live, name="portal-charger-live"),
    path("chargers/<str:identity>/command/", views.charger_command, name="portal-charger-command"),
    path("journal/", views.journal, name="portal-journal"),
    path("sites/<id:site_id>/load/", load_views.site_load, name="portal-site-load"),
    path("sites/<id:site_id>/load/live/", load_views.site_load_live, name="portal-site-load-live"),
    path("sessions/", session_views.session_list, name="portal-sessions"),
    path("sessions/<id:session_id>/", session_views.session_detail, name="portal-session"),
    path("sessions/<id:session_id>/live/", session_views.session_live, name="portal-session-live"),
    path("sessions/<id:session_id>/stop/", session_views.session_stop, name="portal-session-stop"),
    path("drivers/", money_views.driver_list, name="portal-drivers"),
    path("purchases/", money_views.purchase_list, name="portal-purchases"),
    path("payments/", money_views.payment_list, name="portal-payments"),
    path("wallets/", money_views.wallet_list, name="portal-wallets"),
    path("wallets/<id:wallet_id>/", money_views.wallet_detail, name="portal-wallet"),
    path("tariffs/", tariff_views.tariff_overview, name="portal-tariffs"),
    path("tariffs/import/", tariff_views.prices_import, name="portal-prices-import"),
    path("tariffs/generate/", tariff_views.prices_generate, name="portal-prices-generate"),
]
