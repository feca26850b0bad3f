"""The operator APIs' mapping of errors to HTTP, once for this interface.

Two contracts, one table: /api/operator/ answers DRF's {"detail": "..."} shape; OCPP.Core's
/API/Payments/* (seed 004) answers {"status": "Error", "code": "...", "message": "..."}.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from accounts.errors import DomainError
from config.http_errors import http_status


def _headers(exc: DomainError) -> dict | None:
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after else None


def operator_exception_handler(exc: Exception, context: dict) -> Response | None:
    """/api/operator/: DRF's shapes, with model validation as 400 and protected rows as 409."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        return Response(body, status=http_status(exc), headers=_headers(exc))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_errors(exc))
    elif isinstance(exc, ProtectedError):
        return Response(
            {"detail": "Still in use by other records; remove those first."},
            status=status.HTTP_409_CONFLICT,
        )
    return exception_handler(exc, context)


def payments_exception_handler(exc: Exception, context: dict) -> Response | None:
    """/API/Payments/*: seed 004's {"status": "Error", "code", "message"}; DRF's own errors
    (authentication, invalid input) keep DRF's shape."""
    if isinstance(exc, DomainError):
        return Response({"status": "Error", **exc.as_dict()}, status=http_status(exc), headers=_headers(exc))
    return exception_handler(exc, context)


def _django_errors(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for e in errors for m in e.messages]
            for field, errors in exc.error_dict.items()
        }
    return {"non_field_errors": exc.messages}
