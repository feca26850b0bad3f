"""Sessions and purchases (with filters and CSV export), a session's meter values and
charging curve, the OCPP frame journal and a charge point's status history."""

from __future__ import annotations

from dataclasses import asdict

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from billing.models import Purchase
from chargepoints.models import ConnectorStatus, ConnectorStatusChange, OcppMessage
from config.validation import DatabaseIdField
from sessions_app.curve import session_charging_curve
from sessions_app.models import ChargeSession, MeterSample

from .access import charge_point_or_404, scoped
from .base import CSV, DateOrDateTimeField, OperatorApi, csv_response, paginated, start_of, validated

SESSIONS = "Operator: sessions and purchases"
CHARGERS = "Operator: charge points"
JOURNAL = "Operator: OCPP journal"


def sessions_of(user) -> QuerySet[ChargeSession]:
    return scoped(
        ChargeSession.objects.select_related("charge_point", "connector", "user"),
        user,
        operator_path="charge_point__site__operator_id",
    )


def purchases_of(user) -> QuerySet[Purchase]:
    return scoped(
        Purchase.objects.select_related("session__charge_point", "session__connector", "user"),
        user,
        operator_path="session__charge_point__site__operator_id",
    )


class ActivityFilter(serializers.Serializer):
    charge_point = serializers.CharField(required=False, help_text="Charge point identity")
    driver = DatabaseIdField(required=False, help_text="User id of the driver")
    since = DateOrDateTimeField(required=False, help_text="Started at or after (date or date-time)")
    until = DateOrDateTimeField(required=False, help_text="Started before (date or date-time)")


def _filter(queryset, filters: dict, *, charge_point: str, user: str, moment: str):
    if "charge_point" in filters:
        queryset = queryset.filter(**{charge_point: filters["charge_point"]})
    if "driver" in filters:
        queryset = queryset.filter(**{user: filters["driver"]})
    if filters.get("since"):
        queryset = queryset.filter(**{f"{moment}__gte": start_of(filters["since"])})
    if filters.get("until"):
        queryset = queryset.filter(**{f"{moment}__lt": start_of(filters["until"])})
    if "state" in filters:
        queryset = queryset.filter(status=filters["state"])
    return queryset


class SessionFilter(ActivityFilter):
    state = serializers.ChoiceField(ChargeSession.Status.choices, required=False)


class PurchaseFilter(ActivityFilter):
    state = serializers.ChoiceField(Purchase.Status.choices, required=False)


def filtered_sessions(request) -> QuerySet[ChargeSession]:
    filters = validated(SessionFilter, request.query_params)
    return _filter(
        sessions_of(request.user), filters, charge_point="charge_point__identity", user="user_id", moment="started_at"
    )


def filtered_purchases(request) -> QuerySet[Purchase]:
    filters = validated(PurchaseFilter, request.query_params)
    return _filter(
        purchases_of(request.user),
        filters,
        charge_point="session__charge_point__identity",
        user="user_id",
        moment="session__started_at",
    )


class SessionOutput(serializers.ModelSerializer):
    charge_point = serializers.CharField(source="charge_point.identity")
    connector = serializers.IntegerField(source="connector.connector_id")
    driver = serializers.IntegerField(source="user_id", allow_null=True)
    energy_wh = serializers.IntegerField()
    state = serializers.CharField(source="status")

    class Meta:
        model = ChargeSession
        fields = [
            "id",
            "charge_point",
            "connector",
            "transaction_id",
            "ocpp_version",
            "id_tag",
            "driver",
            "state",
            "charging_state",
            "started_at",
            "stopped_at",
            "meter_start_wh",
            "meter_stop_wh",
            "energy_wh",
            "power_w",
            "soc_percent",
            "stop_reason",
            "closed_by",
        ]


SESSION_CSV = [
    "id",
    "charge_point",
    "connector",
    "transaction_id",
    "id_tag",
    "driver",
    "state",
    "started_at",
    "stopped_at",
    "energy_wh",
    "stop_reason",
]


def _session_row(session: ChargeSession) -> list:
    return [
        session.pk,
        session.charge_point.identity,
        session.connector.connector_id,
        session.transaction_id,
        session.id_tag,
        session.user_id,
        session.status,
        session.started_at.isoformat(),
        session.stopped_at.isoformat() if session.stopped_at else None,
        session.energy_wh,
        session.stop_reason,
    ]


class SessionListApi(OperatorApi):
    @extend_schema(tags=[SESSIONS], parameters=[SessionFilter], responses=paginated("PaginatedSessions", SessionOutput))
    def get(self, request):
        return self.paginate(filtered_sessions(request).order_by("-started_at", "-id"), SessionOutput)


class SessionExportApi(OperatorApi):
    @extend_schema(tags=[SESSIONS], parameters=[SessionFilter], responses={(200, "text/csv"): CSV})
    def get(self, request):
        sessions = filtered_sessions(request).order_by("started_at", "id")
        return csv_response("sessions.csv", SESSION_CSV, (_session_row(s) for s in sessions.iterator(chunk_size=500)))


class SessionDetailApi(OperatorApi):
    @extend_schema(tags=[SESSIONS], responses=SessionOutput)
    def get(self, request, session_id: int):
        return Response(SessionOutput(get_object_or_404(sessions_of(request.user), pk=session_id)).data)


class PurchaseOutput(serializers.ModelSerializer):
    session = serializers.IntegerField(source="session_id")
    charge_point = serializers.CharField(source="session.charge_point.identity")
    driver = serializers.IntegerField(source="user_id", allow_null=True)
    state = serializers.CharField(source="status")

    class Meta:
        model = Purchase
        fields = [
            "id",
            "session",
            "charge_point",
            "driver",
            "state",
            "currency",
            "energy_wh",
            "idle_minutes",
            "subtotal",
            "vat_amount",
            "total_price",
            "payment_method",
            "priced_at",
            "paid_at",
            "created_at",
        ]


PURCHASE_CSV = [
    "id",
    "session",
    "charge_point",
    "driver",
    "state",
    "currency",
    "energy_wh",
    "subtotal",
    "vat_amount",
    "total_price",
    "payment_method",
    "paid_at",
    "created_at",
]


def _purchase_row(purchase: Purchase) -> list:
    return [
        purchase.pk,
        purchase.session_id,
        purchase.session.charge_point.identity,
        purchase.user_id,
        purchase.status,
        purchase.currency,
        purchase.energy_wh,
        purchase.subtotal,
        purchase.vat_amount,
        purchase.total_price,
        purchase.payment_method,
        purchase.paid_at.isoformat() if purchase.paid_at else None,
        purchase.created_at.isoformat(),
    ]


class PurchaseListApi(OperatorApi):
    @extend_schema(
        tags=[SESSIONS], parameters=[PurchaseFilter], responses=paginated("PaginatedPurchases", PurchaseOutput)
    )
    def get(self, request):
        return self.paginate(filtered_purchases(request).order_by("-created_at", "-id"), PurchaseOutput)


class PurchaseExportApi(OperatorApi):
    @extend_schema(tags=[SESSIONS], parameters=[PurchaseFilter], responses={(200, "text/csv"): CSV})
    def get(self, request):
        purchases = filtered_purchases(request).order_by("created_at", "id")
        return csv_response(
            "purchases.csv", PURCHASE_CSV, (_purchase_row(p) for p in purchases.iterator(chunk_size=500))
        )


class PurchaseDetailApi(OperatorApi):
    @extend_schema(tags=[SESSIONS], responses=PurchaseOutput)
    def get(self, request, purchase_id: int):
        return Response(PurchaseOutput(get_object_or_404(purchases_of(request.user), pk=purchase_id)).data)


# --- The frame journal --------------------------------------------------------------------


class JournalApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        direction = serializers.ChoiceField(OcppMessage.Direction.choices, required=False)
        action = serializers.CharField(required=False, max_length=64)
        message_type = serializers.ChoiceField(OcppMessage.MessageType.choices, required=False)
        unique_id = serializers.CharField(required=False, max_length=64)
        since = DateOrDateTimeField(required=False)
        until = DateOrDateTimeField(required=False)

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = OcppMessage
            fields = ["id", "created_at", "direction", "message_type", "unique_id", "action", "payload", "raw"]

    @extend_schema(
        tags=[JOURNAL], parameters=[FilterSerializer], responses=paginated("PaginatedJournal", OutputSerializer)
    )
    def get(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        filters = validated(self.FilterSerializer, request.query_params)
        frames = OcppMessage.objects.filter(charge_point=charge_point)
        for name in ("direction", "action", "message_type", "unique_id"):
            if name in filters:
                frames = frames.filter(**{name: filters[name]})
        if filters.get("since"):
            frames = frames.filter(created_at__gte=start_of(filters["since"]))
        if filters.get("until"):
            frames = frames.filter(created_at__lt=start_of(filters["until"]))
        return self.paginate(frames.order_by("-created_at", "-id"), self.OutputSerializer)


# --- a session's meter values and charging curve ---------------------------------------------


class SessionMeterValuesApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        measurand = serializers.CharField(required=False, max_length=50, help_text="e.g. Power.Active.Import")
        phase = serializers.CharField(required=False, allow_blank=True, max_length=10, help_text="L1, L2, ... or empty")

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = MeterSample
            fields = ["sampled_at", "measurand", "phase", "location", "context", "value", "unit"]

    @extend_schema(
        tags=[SESSIONS],
        summary="A session's meter values, oldest first",
        parameters=[FilterSerializer],
        responses=paginated("PaginatedSessionMeterValues", OutputSerializer),
    )
    def get(self, request, session_id: int):
        session = get_object_or_404(sessions_of(request.user), pk=session_id)
        filters = validated(self.FilterSerializer, request.query_params)
        samples = MeterSample.objects.filter(session=session)
        for name in ("measurand", "phase"):
            if name in filters:
                samples = samples.filter(**{name: filters[name]})
        return self.paginate(samples.order_by("sampled_at", "id"), self.OutputSerializer)


class SessionChargingCurveApi(OperatorApi):
    class PointSerializer(serializers.Serializer):
        at = serializers.DateTimeField()
        power_w = serializers.IntegerField(allow_null=True, help_text="Total active power")
        energy_wh = serializers.IntegerField(allow_null=True, help_text="Energy of the session so far")
        soc_percent = serializers.IntegerField(allow_null=True)
        derived = serializers.BooleanField(help_text="Power averaged from the energy register (no power sample)")

    @extend_schema(
        tags=[SESSIONS],
        summary="A session's charging curve: power, energy and SoC over time",
        responses=inline_serializer(
            "SessionChargingCurve",
            {"session": serializers.IntegerField(), "points": PointSerializer(many=True)},
        ),
    )
    def get(self, request, session_id: int):
        session = get_object_or_404(sessions_of(request.user), pk=session_id)
        points = [asdict(point) for point in session_charging_curve(session=session)]
        return Response({"session": session.pk, "points": self.PointSerializer(points, many=True).data})


# --- connector status history ----------------------------------------------------------------


class StatusHistoryApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        connector = serializers.IntegerField(
            required=False, min_value=0, max_value=2**31 - 1, help_text="Connector number; 0 = the charger itself"
        )
        status = serializers.ChoiceField(ConnectorStatus.choices, required=False)
        since = DateOrDateTimeField(required=False)
        until = DateOrDateTimeField(required=False)

    class OutputSerializer(serializers.ModelSerializer):
        connector = serializers.SerializerMethodField()

        class Meta:
            model = ConnectorStatusChange
            fields = ["at", "connector", "status", "error_code", "info", "vendor_error_code", "received_at"]

        def get_connector(self, change) -> int:
            return change.connector.connector_id if change.connector_id else 0

    @extend_schema(
        tags=[CHARGERS],
        summary="A charge point's status history (newest first)",
        parameters=[FilterSerializer],
        responses=paginated("PaginatedStatusHistory", OutputSerializer),
    )
    def get(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        filters = validated(self.FilterSerializer, request.query_params)
        changes = ConnectorStatusChange.objects.filter(charge_point=charge_point).select_related("connector")
        if "connector" in filters:
            number = filters["connector"]
            changes = (
                changes.filter(connector__isnull=True)
                if number == 0
                else changes.filter(connector__connector_id=number)
            )
        if "status" in filters:
            changes = changes.filter(status=filters["status"])
        if filters.get("since"):
            changes = changes.filter(at__gte=start_of(filters["since"]))
        if filters.get("until"):
            changes = changes.filter(at__lt=start_of(filters["until"]))
        return self.paginate(changes.order_by("-at", "-id"), self.OutputSerializer)
