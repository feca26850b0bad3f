"""Webhooks the payment providers call, under /API/Payments/Webhook (seed 004's Stripe path
and our QPay, Klarna and sandbox callbacks). Unauthenticated: they trust only a verified
signature (Stripe) or a re-check with the provider (QPay, Klarna, sandbox)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
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


TAG = "Payment webhooks"
_RECEIVED = inline_serializer(
    "WebhookReceived",
    {
        "received": serializers.BooleanField(),
        "result": serializers.CharField(
            help_text='What was done with it, or "deferred" when the provider could not be asked now '
            "(the poller converges later)."
        ),
    },
)
_ERROR = inline_serializer(
    "WebhookError",
    {"status": serializers.CharField(), "code": serializers.CharField(), "message": serializers.CharField()},
)


class WebhookApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_exception_handler(self):
        return webhook_exception_handler


class StripeWebhookApi(WebhookApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="payments_stripe_webhook",
        summary="Stripe events (seed 004's webhook endpoint), verified by the Stripe-Signature header",
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER, required=True)],
        responses={
            200: _RECEIVED,
            400: OpenApiResponse(_ERROR, description="Unparseable event or a signature that does not verify."),
        },
    )
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


def _callback_schema(provider: str, method: str):
    return extend_schema(
        tags=[TAG],
        operation_id=f"payments_{provider}_callback_{method}",
        summary=f"{provider.capitalize()} callback: names the invoice to re-check with the provider "
        "(its content is not trusted)",
        request=OpenApiTypes.OBJECT if method == "post" else None,
        responses={200: _RECEIVED, 404: OpenApiResponse(_ERROR, description="Unknown invoice.")},
    )


class QPayCallbackApi(ProviderCallbackApi):
    provider = Provider.QPAY
    event_id_fields = ("qpay_payment_id", "payment_id")

    @_callback_schema("qpay", "get")
    def get(self, request, public_id):
        return super().get(request, public_id)

    @_callback_schema("qpay", "post")
    def post(self, request, public_id):
        return super().post(request, public_id)


class KlarnaPushApi(ProviderCallbackApi):
    provider = Provider.KLARNA
    event_id_fields = ("order_id", "klarna_order_id")

    @_callback_schema("klarna", "get")
    def get(self, request, public_id):
        return super().get(request, public_id)

    @_callback_schema("klarna", "post")
    def post(self, request, public_id):
        return super().post(request, public_id)


class SandboxNotificationSerializer(serializers.Serializer):
    reference = serializers.UUIDField()
    eventId = serializers.CharField(max_length=200)


class SandboxWebhookApi(WebhookApiView):
    InputSerializer = SandboxNotificationSerializer

    @extend_schema(
        tags=[TAG],
        operation_id="payments_sandbox_webhook",
        summary="The sandbox provider's notification (sent by our own pay page): an invoice to re-check",
        request=InputSerializer,
        responses={200: _RECEIVED, 400: OpenApiResponse(_ERROR, description="Malformed notification.")},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.sandbox_notification_handle(
            reference=str(data.validated_data["reference"]),
            event_id=data.validated_data["eventId"],
        )
        return Response({"received": True, "result": result})
