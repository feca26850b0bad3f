"""The OCPP.Core-compatible payment endpoints (seed 004) and provider webhooks.

Create / Confirm / Cancel authenticate with the operator's X-API-Key; the webhooks are
unauthenticated and trust only a verified signature (Stripe) or a re-check with the
provider (QPay, Klarna, sandbox).
"""
from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from payments import services
from payments.errors import PaymentError, ProviderError
from payments.models import Provider


def _error(exc: PaymentError) -> Response:
    return Response({"status": "Error", "code": exc.code, "message": exc.message}, status=exc.http_status)


def _operator_id(request) -> int | None:
    operator = getattr(request.user, "operator", None)
    return operator.pk if operator is not None else None


class KeyMaySendCommands(BasePermission):
    """Reservations start and stop chargers: a read-only key may not use them."""

    message = "This API key's scope does not allow charger commands."

    def has_permission(self, request, view) -> bool:
        return request.auth is not None and request.auth.allows("command")


class OperatorApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated, KeyMaySendCommands]


class ReservationCreateApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        chargePointId = serializers.CharField(max_length=48)
        connectorId = serializers.IntegerField(min_value=1)
        chargeTagId = serializers.CharField(max_length=36)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            answer = services.reservation_create(
                charge_point_id=data.validated_data["chargePointId"], connector_id=data.validated_data["connectorId"],
                charge_tag=data.validated_data["chargeTagId"], operator_id=_operator_id(request),
            )
        except PaymentError as exc:
            return _error(exc)
        return Response(answer)


class ReservationConfirmApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        reservationId = serializers.CharField(max_length=64)
        checkoutSessionId = serializers.CharField(max_length=200)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            answer = services.reservation_confirm(
                reservation_id=data.validated_data["reservationId"],
                checkout_session_id=data.validated_data["checkoutSessionId"], operator_id=_operator_id(request),
            )
        except PaymentError as exc:
            return _error(exc)
        return Response(answer)


class ReservationCancelApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        reservationId = serializers.CharField(max_length=64)
        reason = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            answer = services.reservation_cancel(
                reservation_id=data.validated_data["reservationId"], reason=data.validated_data.get("reason", ""),
                operator_id=_operator_id(request),
            )
        except PaymentError as exc:
            return _error(exc)
        return Response(answer)


class WebhookApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class StripeWebhookApi(WebhookApiView):
    def post(self, request):
        try:
            result = services.stripe_webhook_handle(
                payload=request.body, signature=request.META.get("HTTP_STRIPE_SIGNATURE", ""),
            )
        except PaymentError as exc:
            return _error(exc)
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
                provider=self.provider, public_id=public_id, event_id=event_id, payload={k: str(v)[:200] for k, v in params.items()},
            )
        except PaymentError as exc:
            return _error(exc)
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
            reference=str(data.validated_data["reference"]), event_id=data.validated_data["eventId"],
        )
        return Response({"received": True, "result": result})
