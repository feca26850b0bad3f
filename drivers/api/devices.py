"""Chargers on the driver's map (seed 002: devices/by-location)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from drivers.api.base import ERRORS, ApiSerializer, DriverAPIView
from drivers.api.serializers import DeviceWithStateSerializer
from drivers.devices import Box, device_map

LONGITUDE = {"min_value": Decimal(-180), "max_value": Decimal(180)}
LATITUDE = {"min_value": Decimal(-90), "max_value": Decimal(90)}
BOX_FIELDS = {
    "bottom-left-longitude": LONGITUDE,
    "bottom-left-latitude": LATITUDE,
    "upper-right-longitude": LONGITUDE,
    "upper-right-latitude": LATITUDE,
}


class DevicesByLocationApi(DriverAPIView):
    class InputSerializer(ApiSerializer):
        def get_fields(self):
            # The seed's query parameters have dashes, which Python names cannot.
            return {
                name: serializers.DecimalField(max_digits=12, decimal_places=8, coerce_to_string=False, **bounds)
                for name, bounds in BOX_FIELDS.items()
            }

        def validate(self, attrs):
            if attrs["bottom-left-latitude"] > attrs["upper-right-latitude"]:
                raise serializers.ValidationError("bottom-left-latitude must not be north of upper-right-latitude.")
            return attrs

    @extend_schema(
        operation_id="devices_by_location",
        tags=["driver: chargers"],
        summary="Chargers inside a map box",
        description=(
            "Public chargers whose site lies inside the box, edges included. A box whose left longitude "
            "is east of its right one spans the antimeridian. State: Repair = switched off, not accepted "
            "or all connectors Unavailable; Error = offline, Faulted, or all connectors Faulted; Idle = a "
            "connector Available or Preparing; Busy = otherwise. A charger whose price cannot be looked up "
            "right now is left out rather than shown as free."
        ),
        parameters=[
            OpenApiParameter(name, float, OpenApiParameter.QUERY, required=True, description=f"{name} (degrees)")
            for name in BOX_FIELDS
        ],
        responses={200: DeviceWithStateSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        box = Box(**{name.replace("-", "_"): value for name, value in data.validated_data.items()})
        return Response(DeviceWithStateSerializer(device_map(box=box), many=True).data)
