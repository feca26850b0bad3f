"""The driver API's one error format and its one mapping of domain errors to HTTP.

Every error answers {"code": "...", "message": "..."} (plus "errors" per field for bad
input), whatever raised it: DRF (authentication, validation, parsing) or a service (a
domain error kind from accounts.errors).
"""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from accounts.errors import DomainError
from config.http_errors import http_status


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def driver_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return Response(exc.as_dict(), status=http_status(exc), headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"code": "invalid", "message": _first_message(exc.detail), "errors": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = {"code": str(code), "message": _first_message(detail)}
    return response


def not_found(request, *args, **kwargs):
    """Any other path under /api/v1/: a JSON 404 in this API's error format (Django's own 404
    page is HTML, which the app cannot read)."""
    from django.http import JsonResponse

    return JsonResponse({"code": "not_found", "message": "No such endpoint in the driver API."}, status=404)
