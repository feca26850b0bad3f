"""OCPP.Core's payment reservation endpoints (seed 004): /API/Payments/Create, Confirm and
Cancel, authenticated with the operator's X-API-Key. The provider webhooks under
/API/Payments/Webhook belong to the payments app (payments/webhooks.py)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from payments import services
from payments.models import Reservation
from payments.money import to_minor_units

from .errors import payments_exception_handler


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


class KeyMaySendCommands(BasePermission):
    """Reservations start and stop chargers: a read-only key may not use them."""

    message = "This API key's scope does not allow charger commands."

    def has_permission(self, request, view) -> bool:
        return request.auth is not None and request.auth.allows("command")


class OperatorApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated, KeyMaySendCommands]

    def get_exception_handler(self):
        return payments_exception_handler


class ReservationCreateApi(OperatorApiView):
    class InputSerializer(serializers.Serializer):
        chargePointId = serializers.CharField(max_length=48)
        connectorId = serializers.IntegerField(min_value=1)
        chargeTagId = serializers.CharField(max_length=36)

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

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = services.reservation_cancel(
            reservation_id=data.validated_data["reservationId"],
            reason=data.validated_data.get("reason", ""),
            operator_id=_operator_id(request),
        )
        return Response({"status": reservation.get_status_display(), "reservationId": str(reservation.pk)})
