"""Operator portal pages for charge sessions."""
from django.urls import path

from sessions_app import views

urlpatterns = [
    path("sessions/", views.session_list, name="portal-sessions"),
    path("sessions/<id:session_id>/", views.session_detail, name="portal-session"),
]
