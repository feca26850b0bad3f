"""The driver app's REST API (seed 002), mounted at /api/v1/ by config/urls.py."""

from django.urls import path, re_path

from drivers.api import accounts, charging, devices, purchases
from drivers.api.errors import not_found

urlpatterns = [
    path("user/otp-request", accounts.OtpRequestApi.as_view(), name="driver-otp-request"),
    path("user/otp-check", accounts.OtpCheckApi.as_view(), name="driver-otp-check"),
    path("user/me", accounts.MeApi.as_view(), name="driver-me"),
    path("user/logout", accounts.LogoutApi.as_view(), name="driver-logout"),
    path(
        "customer/update-notification-token",
        accounts.UpdateNotificationTokenApi.as_view(),
        name="driver-update-notification-token",
    ),
    path("customer/update-info", accounts.UpdateInfoApi.as_view(), name="driver-update-info"),
    path("customer/replenish", accounts.ReplenishApi.as_view(), name="driver-replenish"),
    path("customer/replenishment/", accounts.ReplenishmentStatusApi.as_view(), name="driver-replenishment-status"),
    # The seed spells it with a slash; without one, APPEND_SLASH could not redirect a POST.
    path("customer/replenishment", accounts.ReplenishmentStatusNoSlashApi.as_view()),
    path("devices/by-location", devices.DevicesByLocationApi.as_view(), name="driver-devices-by-location"),
    path("devices/<str:device_id>/start", charging.DeviceStartApi.as_view(), name="driver-device-start"),
    path("devices/<str:device_id>/finish", charging.DeviceFinishApi.as_view(), name="driver-device-finish"),
    path("payment-options", purchases.PaymentOptionsApi.as_view(), name="driver-payment-options"),
    path("purchases", purchases.PurchaseListApi.as_view(), name="driver-purchases"),
    path("purchases/<str:purchase_id>/pay", purchases.PurchasePayApi.as_view(), name="driver-purchase-pay"),
    path("purchases/<str:purchase_id>/status", purchases.PurchaseStatusApi.as_view(), name="driver-purchase-status"),
    path(
        "purchases/<str:purchase_id>/feedback", purchases.PurchaseFeedbackApi.as_view(), name="driver-purchase-feedback"
    ),
]

# Last: anything else under /api/v1/ is a JSON 404.
urlpatterns.append(re_path(r"^[\s\S]*$", not_found))
