"""Start and finish charging from the driver app (seed 002: devices/:id/start|finish)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from drivers.api.base import ERRORS, NOT_FOUND, ApiSerializer, DriverAPIView, ErrorSerializer
from drivers.charging import driver_charging_finish, driver_charging_start

TAGS = ["driver: charging"]
CHARGER_ERRORS = {
    409: OpenApiResponse(ErrorSerializer, description="Offline, busy, out of service, refused, or already charging"),
    502: OpenApiResponse(ErrorSerializer, description="The charger answered with an error"),
    504: OpenApiResponse(ErrorSerializer, description="The charger did not answer in time"),
}


class DeviceStartApi(DriverAPIView):
    class OutputSerializer(ApiSerializer):
        status = serializers.CharField()
        connectorId = serializers.IntegerField()

    @extend_schema(
        operation_id="device_start",
        tags=TAGS,
        request=None,
        summary="Start charging; answers once the charger accepted",
        description="CHARGING events {energy (kWh), waitingTime (minutes), amount} follow every few seconds.",
        responses={
            200: OutputSerializer,
            **ERRORS,
            **NOT_FOUND,
            **CHARGER_ERRORS,
            402: OpenApiResponse(ErrorSerializer, description="Wallet below the minimum and no card"),
        },
    )
    def post(self, request, device_id: str):
        return Response(self.OutputSerializer(driver_charging_start(user=request.user, device_id=device_id)).data)


class DeviceFinishApi(DriverAPIView):
    class OutputSerializer(ApiSerializer):
        id = serializers.CharField(help_text="Purchase id")

    @extend_schema(
        operation_id="device_finish",
        tags=TAGS,
        request=None,
        summary="Stop charging; answers the purchase id",
        description=(
            "Stops the driver's session on this charger and waits for the charger to report it; a "
            "charger that is offline or never reports is closed by the server from its last meter value."
        ),
        responses={200: OutputSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, device_id: str):
        purchase_id = driver_charging_finish(user=request.user, device_id=device_id)
        return Response(self.OutputSerializer({"id": purchase_id}).data)
