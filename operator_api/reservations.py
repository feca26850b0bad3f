"""Connector reservations (OCPP ReserveNow / CancelReservation) as records: list, read,
create (sends ReserveNow) and cancel (sends CancelReservation). Not the payment holds of
/API/Payments (those are under payment-holds/)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from chargepoints import reservations as records
from chargepoints.models import ConnectorReservation
from ocpp_consumer import reservations as commands

from . import charger_bus
from .access import charge_point_or_404, charge_points_of, connector_or_404
from .base import DateOrDateTimeField, OperatorApi, paginated, start_of, validated
from .commands import render

RESERVATIONS = "Operator: connector reservations"
SOURCE = "api"


def reservations_of(user):
    return records.connector_reservation_list(charge_points=charge_points_of(user))


class ReservationOutput(serializers.ModelSerializer):
    reservation_id = serializers.IntegerField(source="pk", help_text="The reservationId the charger knows")
    charge_point = serializers.CharField(source="charge_point.identity")
    connector = serializers.IntegerField(source="connector.connector_id")
    session = serializers.SerializerMethodField(help_text="The session that started on it")

    class Meta:
        model = ConnectorReservation
        fields = [
            "reservation_id",
            "charge_point",
            "connector",
            "id_tag",
            "expires_at",
            "status",
            "charger_status",
            "source",
            "session",
            "created_at",
            "ended_at",
        ]

    def get_session(self, reservation) -> int | None:
        session = getattr(reservation, "session", None)
        return session.pk if session is not None else None


class CommandAnswer(serializers.Serializer):
    reservation = ReservationOutput()
    answer = serializers.DictField(help_text="The charger's answer")


def _with_reservation(reply: charger_bus.Reply, reservation: ConnectorReservation, *, ok_status: int) -> Response:
    reservation.refresh_from_db()
    body = ReservationOutput(reservation).data
    if reply.ok:
        return Response({"reservation": body, "answer": reply.payload}, status=ok_status)
    response = render(reply)
    response.data = {**response.data, "reservation": body}
    return response


class ConnectorReservationListApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        charge_point = serializers.CharField(required=False, help_text="Charge point identity")
        status = serializers.ChoiceField(ConnectorReservation.Status.choices, required=False)
        expires_after = DateOrDateTimeField(required=False, help_text="Expires at or after (date or date-time)")
        expires_before = DateOrDateTimeField(required=False, help_text="Expires before (date or date-time)")

    @extend_schema(
        tags=[RESERVATIONS],
        parameters=[FilterSerializer],
        responses=paginated("PaginatedConnectorReservations", ReservationOutput),
    )
    def get(self, request):
        filters = validated(self.FilterSerializer, request.query_params)
        rows = records.connector_reservation_list(
            charge_points=charge_points_of(request.user),
            charge_point=filters.get("charge_point"),
            status=filters.get("status"),
            expires_after=start_of(filters.get("expires_after")),
            expires_before=start_of(filters.get("expires_before")),
        ).select_related("session")
        return self.paginate(rows, ReservationOutput)


class ConnectorReservationDetailApi(OperatorApi):
    @extend_schema(tags=[RESERVATIONS], responses=ReservationOutput)
    def get(self, request, reservation_id: int):
        return Response(ReservationOutput(get_object_or_404(reservations_of(request.user), pk=reservation_id)).data)


class ConnectorReservationCreateApi(OperatorApi):
    class InputSerializer(serializers.Serializer):
        charge_point = serializers.CharField(help_text="Charge point identity")
        connector = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="Connector number")
        id_tag = serializers.CharField(max_length=36, help_text="The idTag / idToken to keep the connector for")
        expires_at = serializers.DateTimeField(help_text="ISO 8601 date-time with offset, in the future")

    @extend_schema(
        tags=[RESERVATIONS],
        summary="Reserve a connector (sends ReserveNow)",
        description="Stores the reservation and sends ReserveNow (translated for OCPP 2.0.1). 201 when the charger "
        "holds it; 409 when it refused (Occupied, Faulted, Unavailable, Rejected) or is not connected, 504 when it "
        "did not answer (the reservation stays requested until it expires): the body always carries the reservation.",
        request=InputSerializer,
        responses={201: CommandAnswer, 409: CommandAnswer, 502: CommandAnswer, 504: CommandAnswer},
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        charge_point = charge_point_or_404(request.user, data["charge_point"])
        connector = connector_or_404(charge_point, data["connector"])
        reservation = commands.reservation_add(
            charge_point=charge_point,
            connector=connector,
            id_tag=data["id_tag"],
            expires_at=data["expires_at"],
            source=SOURCE,
        )
        reply = charger_bus.reply_of(
            lambda: commands.reserve_now_send(reservation=reservation),
            identity=charge_point.identity,
            action="ReserveNow",
        )
        if reply.ok and reply.status != "Accepted":
            response = _with_reservation(reply, reservation, ok_status=status.HTTP_409_CONFLICT)
            response.data["detail"] = f"The charger refused the reservation: {reply.status}."
            return response
        return _with_reservation(reply, reservation, ok_status=status.HTTP_201_CREATED)


class ConnectorReservationCancelApi(OperatorApi):
    @extend_schema(
        tags=[RESERVATIONS],
        summary="Cancel a reservation (sends CancelReservation)",
        description="Cancelled when the charger answers Accepted, or Rejected (it no longer held it). 409 for a "
        "reservation that is not live or a charger that is not connected; 504 when it did not answer.",
        request=None,
        responses={200: CommandAnswer, 409: CommandAnswer, 502: CommandAnswer, 504: CommandAnswer},
    )
    def post(self, request, reservation_id: int):
        reservation = get_object_or_404(reservations_of(request.user), pk=reservation_id)
        reply = charger_bus.reply_of(
            lambda: commands.cancel_reservation_send(reservation=reservation),
            identity=reservation.charge_point.identity,
            action="CancelReservation",
        )
        return _with_reservation(reply, reservation, ok_status=status.HTTP_200_OK)
