"""Site load management (smart charging) in the operator REST API: read a site's load
settings with its current allocation, change the settings (journaled)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from loadmanagement import selectors as load_selectors
from loadmanagement import services as load_services
from loadmanagement.models import SiteLoadSettings, Strategy

from .base import OperatorApi, validated
from .sites import sites_of

LOAD = "Operator: load management"
AMPS = {"max_digits": 7, "decimal_places": 1, "min_value": 0}


class ConnectorAllocationOutput(serializers.Serializer):
    charge_point = serializers.CharField()
    connector_id = serializers.IntegerField()
    status = serializers.CharField()
    phases = serializers.IntegerField()
    min_amps = serializers.DecimalField(max_digits=7, decimal_places=1)
    max_amps = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    session_id = serializers.IntegerField(allow_null=True)
    limit_amps = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    limit_status = serializers.CharField(help_text="accepted, pending, rejected, offline or empty")
    draw_amps = serializers.ListField(child=serializers.FloatField(), help_text="Latest current per phase")
    over_limit = serializers.BooleanField()


class SiteLoadOutput(serializers.Serializer):
    site = serializers.IntegerField()
    enabled = serializers.BooleanField()
    capacity_amps = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    capacity_kw = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
    safety_margin_amps = serializers.DecimalField(max_digits=7, decimal_places=1)
    strategy = serializers.CharField()
    fail_safe_amps = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    net_capacity_amps = serializers.DecimalField(
        max_digits=7, decimal_places=1, allow_null=True, help_text="Per phase, less the margin"
    )
    connectors = ConnectorAllocationOutput(many=True)


def _output(site) -> dict:
    load = SiteLoadSettings.objects.filter(site=site).first() or SiteLoadSettings(site=site)
    return SiteLoadOutput(
        {
            "site": site.pk,
            "enabled": load.enabled,
            "capacity_amps": load.capacity_amps,
            "capacity_kw": load.capacity_kw,
            "safety_margin_amps": load.safety_margin_amps,
            "strategy": load.strategy,
            "fail_safe_amps": load.fail_safe_amps,
            "net_capacity_amps": load_selectors.net_capacity_amps(load_selectors.site_capacity(load)),
            "connectors": load_selectors.site_allocation_rows(site_id=site.pk),
        }
    ).data


class SiteLoadApi(OperatorApi):
    @extend_schema(tags=[LOAD], responses=SiteLoadOutput)
    def get(self, request, site_id: int):
        return Response(_output(get_object_or_404(sites_of(request.user), pk=site_id)))


class SiteLoadUpdateApi(OperatorApi):
    class InputSerializer(serializers.Serializer):
        enabled = serializers.BooleanField(required=False)
        capacity_amps = serializers.DecimalField(**AMPS, required=False, allow_null=True)
        capacity_kw = serializers.DecimalField(
            max_digits=9, decimal_places=2, min_value=0, required=False, allow_null=True
        )
        safety_margin_amps = serializers.DecimalField(**AMPS, required=False)
        strategy = serializers.ChoiceField(Strategy.choices, required=False)
        fail_safe_amps = serializers.DecimalField(**AMPS, required=False, allow_null=True)

    @extend_schema(tags=[LOAD], request=InputSerializer, responses=SiteLoadOutput)
    def patch(self, request, site_id: int):
        site = get_object_or_404(sites_of(request.user), pk=site_id)
        data = validated(self.InputSerializer, request.data, partial=True)
        actor = None if getattr(request.user, "api_key", None) is not None else request.user
        load_services.site_load_settings_update(site=site, changes=data, actor=actor, source="api")
        return Response(_output(site))
