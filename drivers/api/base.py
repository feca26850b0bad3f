"""What every driver API view shares: authentication, and one error shape
(drivers.api.errors)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from accounts.authentication import DriverTokenAuthentication, IsDriver
from drivers.api.errors import driver_exception_handler


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Per-field messages for invalid input")


class EmptySerializer(serializers.Serializer):
    pass


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, expired or revoked token"),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="Unknown id, or not the driver's")}


class DriverAPIView(APIView):
    authentication_classes = [DriverTokenAuthentication]
    permission_classes = [IsDriver]
    # The app sends JSON; plain forms are accepted for curl users. No multipart: nothing uploads files.
    parser_classes = [JSONParser, FormParser]

    def get_exception_handler(self):
        return driver_exception_handler


class PublicAPIView(DriverAPIView):
    """No login needed (and no session cookie, hence no CSRF check)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


def client_ip(request) -> str | None:
    from accounts.network import client_address

    return client_address(peer=request.META.get("REMOTE_ADDR"), forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"))


class ApiSerializer(serializers.Serializer):
    """Nested Input/OutputSerializers share their short names across views; naming the schema
    component after the view ("ReplenishApiOutput") keeps the OpenAPI components apart."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta") or type("Meta", (), {})
        if not hasattr(meta, "ref_name"):
            meta.ref_name = cls.__qualname__.replace(".", "").removesuffix("Serializer")
        cls.Meta = meta
