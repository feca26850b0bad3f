"""The charging limits set through /API/SetChargingLimit (and the command endpoints):
chargepoints.ChargingProfile rows with source "api", listed per charger, each with a clear
action that sends ClearChargingProfile for its profile id (translated for 2.0.1)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chargepoints.models import ChargingProfile
from chargepoints.services import charging_profile_forget

from . import charger_bus
from .access import charge_point_or_404
from .base import OperatorApi, validated
from .commands import render

LIMITS = "Operator: charging limits"
LIVE = (ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE)


def limits_of(charge_point):
    return ChargingProfile.objects.filter(charge_point=charge_point, source=charger_bus.SOURCE)


class LimitOutput(serializers.ModelSerializer):
    connector = serializers.IntegerField(
        source="connector_id", help_text="0 = the whole charger; for OCPP 2.0.1 the EVSE id"
    )
    limit = serializers.SerializerMethodField(help_text="The first period's limit, in the unit")
    unit = serializers.CharField(source="charging_rate_unit")

    class Meta:
        model = ChargingProfile
        fields = [
            "id",
            "connector",
            "profile_id",
            "purpose",
            "kind",
            "recurrency_kind",
            "limit",
            "unit",
            "status",
            "schedule",
            "created_at",
            "updated_at",
        ]

    def get_limit(self, profile) -> float | None:
        schedule = profile.schedule if isinstance(profile.schedule, dict) else {}
        periods = schedule.get("chargingSchedulePeriod") or []
        return periods[0].get("limit") if periods else None


class ChargingLimitListApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            [*ChargingProfile.Status.choices, ("all", "all")],
            required=False,
            help_text="Leave out for the live ones (pending and active); all for every one",
        )

    @extend_schema(tags=[LIMITS], parameters=[FilterSerializer], responses=LimitOutput(many=True))
    def get(self, request, identity: str):
        charge_point = charge_point_or_404(request.user, identity)
        wanted = validated(self.FilterSerializer, request.query_params).get("status")
        limits = limits_of(charge_point)
        if wanted is None:
            limits = limits.filter(status__in=LIVE)
        elif wanted != "all":
            limits = limits.filter(status=wanted)
        return Response(LimitOutput(limits.order_by("connector_id", "-created_at"), many=True).data)


class ChargingLimitClearApi(OperatorApi):
    @extend_schema(
        tags=[LIMITS],
        summary="Clear a limit (sends ClearChargingProfile with its profile id)",
        description="Answers the charger's reply: Accepted (cleared) or Unknown (the charger did not hold it: "
        'it is no longer live either). 409 when the charger is not connected, 504 {"status": "Timeout"}.',
        request=None,
        responses=LimitOutput,
    )
    def post(self, request, identity: str, limit_id: int):
        charge_point = charge_point_or_404(request.user, identity)
        profile = get_object_or_404(limits_of(charge_point).filter(status__in=LIVE), pk=limit_id)
        reply = charger_bus.call(charge_point, "ClearChargingProfile", {"id": profile.profile_id})
        if not reply.ok:
            return render(reply)
        if reply.status == "Unknown":
            charging_profile_forget(profile=profile)
        profile.refresh_from_db()
        return Response({**LimitOutput(profile).data, "answer": reply.payload})
