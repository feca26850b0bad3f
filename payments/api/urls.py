from django.urls import path

from payments.api import views

app_name = "payments-api"

urlpatterns = [
    path("Create", views.ReservationCreateApi.as_view(), name="create"),
    path("Confirm", views.ReservationConfirmApi.as_view(), name="confirm"),
    path("Cancel", views.ReservationCancelApi.as_view(), name="cancel"),
    path("Webhook", views.StripeWebhookApi.as_view(), name="webhook"),
    path("Webhook/qpay/<uuid:public_id>", views.QPayCallbackApi.as_view(), name="webhook-qpay"),
    path("Webhook/klarna/<uuid:public_id>", views.KlarnaPushApi.as_view(), name="webhook-klarna"),
    path("Webhook/sandbox", views.SandboxWebhookApi.as_view(), name="webhook-sandbox"),
]
