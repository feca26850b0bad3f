from django.urls import path

from accounts.api import views

urlpatterns = [
    path("user/otp-request", views.OtpRequestApi.as_view(), name="driver-otp-request"),
    path("user/otp-check", views.OtpCheckApi.as_view(), name="driver-otp-check"),
    path("user/me", views.MeApi.as_view(), name="driver-me"),
    path("user/logout", views.LogoutApi.as_view(), name="driver-logout"),
    path("customer/update-notification-token", views.UpdateNotificationTokenApi.as_view(), name="driver-update-notification-token"),
    path("customer/update-info", views.UpdateInfoApi.as_view(), name="driver-update-info"),
    path("customer/replenish", views.ReplenishApi.as_view(), name="driver-replenish"),
    path("customer/replenishment/", views.ReplenishmentStatusApi.as_view(), name="driver-replenishment-status"),
    # The seed spells it with a slash; without one, APPEND_SLASH could not redirect a POST.
    path("customer/replenishment", views.ReplenishmentStatusNoSlashApi.as_view()),
]
