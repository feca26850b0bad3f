"""Payment holds (payments.Reservation: the pre-authorisations of /API/Payments/Create)
listed, filtered and exported for reconciliation. Not connector reservations (those are
under reservations/)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from payments.models import Provider, Reservation

from .access import scoped
from .base import CSV, DateOrDateTimeField, OperatorApi, csv_response, paginated, start_of, validated

HOLDS = "Operator: payment holds"


def holds_of(user) -> QuerySet[Reservation]:
    return scoped(
        Reservation.objects.select_related("charge_point", "connector"),
        user,
        operator_path="charge_point__site__operator_id",
    )


class HoldFilter(serializers.Serializer):
    status = serializers.ChoiceField(Reservation.Status.choices, required=False)
    charge_point = serializers.CharField(required=False, help_text="Charge point identity")
    provider = serializers.ChoiceField(Provider.choices, required=False)
    since = DateOrDateTimeField(required=False, help_text="Created at or after (date or date-time)")
    until = DateOrDateTimeField(required=False, help_text="Created before (date or date-time)")


def filtered_holds(request) -> QuerySet[Reservation]:
    filters = validated(HoldFilter, request.query_params)
    holds = holds_of(request.user)
    if "status" in filters:
        holds = holds.filter(status=filters["status"])
    if "charge_point" in filters:
        holds = holds.filter(charge_point__identity=filters["charge_point"])
    if "provider" in filters:
        holds = holds.filter(provider=filters["provider"])
    if filters.get("since"):
        holds = holds.filter(created_at__gte=start_of(filters["since"]))
    if filters.get("until"):
        holds = holds.filter(created_at__lt=start_of(filters["until"]))
    return holds


class HoldOutput(serializers.ModelSerializer):
    charge_point = serializers.CharField(source="charge_point.identity")
    connector = serializers.IntegerField(source="connector.connector_id")
    driver = serializers.IntegerField(source="user_id", allow_null=True)
    session = serializers.IntegerField(source="session_id", allow_null=True)

    class Meta:
        model = Reservation
        fields = [
            "id",
            "charge_point",
            "connector",
            "charge_tag",
            "driver",
            "provider",
            "status",
            "currency",
            "max_amount",
            "max_energy_wh",
            "capture_amount",
            "captured_amount",
            "start_answer",
            "session",
            "cancel_reason",
            "checkout_session_id",
            "payment_intent_id",
            "created_at",
            "updated_at",
            "expires_at",
        ]


HOLD_CSV = [
    "id",
    "charge_point",
    "connector",
    "charge_tag",
    "driver",
    "provider",
    "status",
    "currency",
    "max_amount",
    "captured_amount",
    "session",
    "payment_intent_id",
    "created_at",
    "updated_at",
]


def _hold_row(hold: Reservation) -> list:
    return [
        str(hold.pk),
        hold.charge_point.identity,
        hold.connector.connector_id,
        hold.charge_tag,
        hold.user_id,
        hold.provider,
        hold.status,
        hold.currency,
        hold.max_amount,
        hold.captured_amount,
        hold.session_id,
        hold.payment_intent_id,
        hold.created_at.isoformat(),
        hold.updated_at.isoformat(),
    ]


class PaymentHoldListApi(OperatorApi):
    @extend_schema(tags=[HOLDS], parameters=[HoldFilter], responses=paginated("PaginatedPaymentHolds", HoldOutput))
    def get(self, request):
        return self.paginate(filtered_holds(request).order_by("-created_at", "-pk"), HoldOutput)


class PaymentHoldExportApi(OperatorApi):
    @extend_schema(tags=[HOLDS], parameters=[HoldFilter], responses={(200, "text/csv"): CSV})
    def get(self, request):
        holds = filtered_holds(request).order_by("created_at", "pk")
        return csv_response("payment-holds.csv", HOLD_CSV, (_hold_row(h) for h in holds.iterator(chunk_size=500)))


class PaymentHoldDetailApi(OperatorApi):
    @extend_schema(tags=[HOLDS], responses=HoldOutput)
    def get(self, request, hold_id: str):
        return Response(HoldOutput(get_object_or_404(holds_of(request.user), pk=hold_id)).data)
