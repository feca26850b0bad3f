"""What every driver API view shares: authentication, and one error shape.

Errors always answer {"code": "...", "message": "..."} (plus "errors" per field for bad
input), whatever raised them: DRF, a service (ServiceError) or payments (PaymentError).
"""
from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import DriverTokenAuthentication, IsDriver
from accounts.errors import ServiceError
from payments.errors import PaymentError


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


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _payment_error(exc: Exception) -> Response | None:
    if not isinstance(exc, PaymentError):
        return None
    return Response({"code": exc.code, "message": exc.message}, status=getattr(exc, "http_status", 400))


class DriverAPIView(APIView):
    authentication_classes = [DriverTokenAuthentication]
    permission_classes = [IsDriver]
    # The app sends JSON; plain forms are accepted for curl users. No multipart: nothing uploads files.
    parser_classes = [JSONParser, FormParser]

    def handle_exception(self, exc):
        if isinstance(exc, ServiceError):
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            return Response(exc.as_dict(), status=exc.status, headers=headers)
        payment = _payment_error(exc)
        if payment is not None:
            return payment
        if isinstance(exc, Http404):
            exc = exceptions.NotFound("Not found.")
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.ValidationError):
            response.data = {"code": "invalid", "message": _first_message(exc.detail), "errors": exc.detail}
        elif isinstance(exc, exceptions.APIException):
            detail = exc.detail
            code = getattr(detail, "code", None) or exc.default_code
            response.data = {"code": str(code), "message": _first_message(detail)}
        return response


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
