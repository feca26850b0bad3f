"""Webhooks the payment providers call, under /API/Payments/Webhook (seed 004's Stripe path
and our QPay, Klarna and sandbox callbacks). Unauthenticated: they trust only a verified
signature (Stripe) or a re-check with the provider (QPay, Klarna, sandbox)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from accounts.errors import DomainError
from config.http_errors import http_status
from payments import services
from payments.errors import ProviderError
from payments.models import Provider


def webhook_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"status": "Error", **exc.as_dict()}, status=http_status(exc))
    return exception_handler(exc, context)


class WebhookApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_exception_handler(self):
        return webhook_exception_handler


class StripeWebhookApi(WebhookApiView):
    def post(self, request):
        try:
            result = services.stripe_webhook_handle(
                payload=request.body,
                signature=request.META.get("HTTP_STRIPE_SIGNATURE", ""),
            )
        except ProviderError:
            # Stripe retries non-2xx answers; the event is stored, so the retry is a no-op
            # and the poller / stale sweep converge instead.
            return Response({"received": True, "result": "deferred"})
        return Response({"received": True, "result": result})


class ProviderCallbackApi(WebhookApiView):
    """QPay / Klarna callbacks: which invoice to re-check; the content itself is not trusted."""

    provider = ""
    event_id_fields: tuple[str, ...] = ()

    def _handle(self, request, public_id):
        params = {**request.query_params.dict(), **(request.data if isinstance(request.data, dict) else {})}
        reference = next((str(params[f]) for f in self.event_id_fields if params.get(f)), "")
        event_id = f"{public_id}:{reference}" if reference else ""
        try:
            status = services.provider_callback_handle(
                provider=self.provider,
                public_id=public_id,
                event_id=event_id,
                payload={k: str(v)[:200] for k, v in params.items()},
            )
        except ProviderError:
            return Response({"received": True, "result": "deferred"})
        return Response({"received": True, "result": status})

    def get(self, request, public_id):
        return self._handle(request, public_id)

    def post(self, request, public_id):
        return self._handle(request, public_id)


class QPayCallbackApi(ProviderCallbackApi):
    provider = Provider.QPAY
    event_id_fields = ("qpay_payment_id", "payment_id")


class KlarnaPushApi(ProviderCallbackApi):
    provider = Provider.KLARNA
    event_id_fields = ("order_id", "klarna_order_id")


class SandboxWebhookApi(WebhookApiView):
    class InputSerializer(serializers.Serializer):
        reference = serializers.UUIDField()
        eventId = serializers.CharField(max_length=200)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.sandbox_notification_handle(
            reference=str(data.validated_data["reference"]),
            event_id=data.validated_data["eventId"],
        )
        return Response({"received": True, "result": result})
