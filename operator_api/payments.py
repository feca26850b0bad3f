"""OCPP.Core's payment reservation endpoints (seed 004): /API/Payments/Create, Confirm and
Cancel, authenticated with the operator's X-API-Key. The provider webhooks under
/API/Payments/Webhook belong to the payments app (payments/webhooks.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from payments import services
from payments.models import Reservation
from payments.money import to_minor_units

from .errors import payments_exception_handler
from .schema import ViewNamedSchema


def _reservation_answer(reservation: Reservation) -> dict:
    """Seed 004's answer to Create: where to pay, and what the reservation allows."""
    return {
        "status": "Redirect",
        "checkoutUrl": reservation.checkout_url,
        "reservationId": str(reservation.pk),
        "currency": reservation.currency.lower(),
        "maxAmountCents": to_minor_units(reservation.max_amount, reservation.currency),
        "maxEnergyKwh": reservation.max_energy_wh // 1000,
    }


def _operator_id(request) -> int | None:
    operator = getattr(request.user, "operator", None)
    return operator.pk if operator is not None else None


TAG = "OCPP.Core payments (seed 004)"
_ERROR = inline_serializer(
    "PaymentsError",
    {
        "status": serializers.CharField(help_text='"Error"'),
        "code": serializers.CharField(),
        "message": serializers.CharField(),
    },
)
_STATUS = inline_serializer("PaymentsStatus", {"status": serializers.CharField()})
_ERRORS = {
    400: OpenApiResponse(_ERROR, description="Malformed request (see message)."),
    401: OpenApiResponse(description="Missing or invalid X-API-Key."),
    403: OpenApiResponse(description="The key's scope does not allow charger commands."),
    404: OpenApiResponse(_ERROR, description="Unknown (or another operator's) charge point, connector or reservation."),
    409: OpenApiResponse(
        _ERROR, description="The reservation's state does not allow this, or an Idempotency-Key reused."
    ),
    502: OpenApiResponse(_ERROR, description="The payment provider or the charger failed."),
    503: OpenApiResponse(_ERROR, description="The charger is offline, or commands cannot reach chargers now."),
}


class KeyMaySendCommands(BasePermission):
    """Reservations start and stop chargers: a read-only key may not use them."""

    message = "This API key's scope does not allow charger commands."

    def has_permission(self, request, view) -> bool:
        return request.auth is not None and request.auth.allows("command")


class OperatorApiView(APIView):
    schema = ViewNamedSchema()
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated, KeyMaySendCommands]

    def get_exception_handler(self):
        return payments_exception_handler


class ReservationCreateApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        chargePointId = serializers.CharField(max_length=48)
        connectorId = serializers.IntegerField(min_value=1)
        chargeTagId = serializers.CharField(max_length=36, help_text="At most 20 characters for an OCPP 1.6 charger.")

    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField(help_text='"Redirect"')
        checkoutUrl = serializers.URLField()
        reservationId = serializers.CharField()
        currency = serializers.CharField()
        maxAmountCents = serializers.IntegerField()
        maxEnergyKwh = serializers.IntegerField()

    @extend_schema(
        tags=[TAG],
        operation_id="payments_create",
        summary="Reserve funds for a charging session: a checkout to open in the browser",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Same key, same answer and one hold; the same key with other parameters is a 409.",
            )
        ],
        responses={200: OutputSerializer, **_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = services.reservation_create(
            identity=data.validated_data["chargePointId"],
            connector_id=data.validated_data["connectorId"],
            charge_tag=data.validated_data["chargeTagId"],
            operator_id=_operator_id(request),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response(_reservation_answer(reservation))


class ReservationConfirmApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        reservationId = serializers.CharField(max_length=64)
        checkoutSessionId = serializers.CharField(max_length=200)

    @extend_schema(
        tags=[TAG],
        operation_id="payments_confirm",
        summary="After the checkout: start the charger; answers what the charger said (Accepted, Rejected, Timeout)",
        description="A retried or concurrent Confirm never starts twice: it waits for a start in flight and "
        "reports its answer. A Rejected or Timeout start may be confirmed again. 402 while the payment is "
        "not authorised yet.",
        request=InputSerializer,
        responses={200: _STATUS, 402: OpenApiResponse(_ERROR, description="Not authorised yet."), **_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        charger_status = services.reservation_confirm(
            reservation_id=data.validated_data["reservationId"],
            checkout_session_id=data.validated_data["checkoutSessionId"],
            operator_id=_operator_id(request),
        )
        return Response({"status": charger_status})


class ReservationCancelApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        reservationId = serializers.CharField(max_length=64)
        reason = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(
        tags=[TAG],
        operation_id="payments_cancel",
        summary="Cancel a reservation that has not led to a session; authorised funds are released",
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "PaymentsCancelled", {"status": serializers.CharField(), "reservationId": serializers.CharField()}
            ),
            **_ERRORS,
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = services.reservation_cancel(
            reservation_id=data.validated_data["reservationId"],
            reason=data.validated_data.get("reason", ""),
            operator_id=_operator_id(request),
        )
        return Response({"status": reservation.get_status_display(), "reservationId": str(reservation.pk)})
