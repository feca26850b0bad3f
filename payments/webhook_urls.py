"""Provider webhooks under /API/Payments/ (wired by config/urls.py)."""

from django.urls import path

from payments import webhooks

app_name = "payments-api"

urlpatterns = [
    path("Webhook", webhooks.StripeWebhookApi.as_view(), name="webhook"),
    path("Webhook/qpay/<uuid:public_id>", webhooks.QPayCallbackApi.as_view(), name="webhook-qpay"),
    path("Webhook/klarna/<uuid:public_id>", webhooks.KlarnaPushApi.as_view(), name="webhook-klarna"),
    path("Webhook/sandbox", webhooks.SandboxWebhookApi.as_view(), name="webhook-sandbox"),
]
