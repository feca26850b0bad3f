"""Operator portal pages. Included last at the root of config/urls.py."""
from django.contrib.auth import views as auth_views
from django.urls import path

from chargepoints import views

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
]
