"""What every /api/operator/ view shares: authentication, the operator permission,
its error mapping (operator_api.errors), pagination and CSV rendering."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from .access import OPERATOR_AUTHENTICATION, HasOperatorPermission, IsOperator
from .errors import operator_exception_handler
from .schema import ViewNamedSchema

TAG_PREFIX = "Operator"
# The schema of a CSV export's answer.
CSV = OpenApiResponse(OpenApiTypes.STR, description="text/csv")


class Pagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


class OperatorApi(APIView):
    schema = ViewNamedSchema()
    authentication_classes = OPERATOR_AUTHENTICATION
    permission_classes = [IsOperator, HasOperatorPermission]

    def get_exception_handler(self):
        return operator_exception_handler

    def paginate(self, queryset, serializer_class) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


def paginated(name: str, item):
    """The schema of a paginated list of `item`."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def start_of(value: date | datetime | None) -> datetime | None:
    """A filter bound: a date means its first moment (UTC)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    """Accepts 2025-01-31 or an ISO 8601 date-time with offset."""

    default_error_messages = {"invalid": "Give a date (YYYY-MM-DD) or an ISO 8601 date-time with an offset."}

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail("invalid")
        if moment.tzinfo is None:
            self.fail("invalid")
        return moment

    def to_representation(self, value):
        return value.isoformat()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A cell as spreadsheets will not run it: text starting like a formula gets a leading
    apostrophe (OWASP CSV injection); numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    filename: str,
    header: list[str],
    rows: Iterable[list],
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response


def validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@csrf_exempt
def not_found(request, *args, **kwargs):
    """JSON 404 for paths under the operator APIs that match no route (Django's own 404 page
    is HTML, which API clients cannot read)."""
    from django.http import JsonResponse

    return JsonResponse({"detail": "Not found."}, status=404)
