"""Statistics: energy and revenue per day, utilisation per charger.

Days are calendar days in the time zone the caller names (default UTC); sessions count on
the day they started, purchases on the day their session started.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from billing.models import Purchase
from chargepoints.models import validate_time_zone

from .access import charge_points_of
from .activity import purchases_of, sessions_of
from .base import OperatorApi, validated

STATISTICS = "Operator: statistics"
DEFAULT_DAYS = 30
# Statistics days are kept well inside what date arithmetic and the database accept (a
# since/until near year 1 or 9999 overflowed into a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _within_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise serializers.ValidationError(f"Must be between {FIRST_DAY} and {LAST_DAY}.")
    return value


class StatisticsFilter(serializers.Serializer):
    since = serializers.DateField(required=False, help_text=f"First day (default: {DEFAULT_DAYS} days ago)")
    until = serializers.DateField(required=False, help_text="Last day, inclusive (default: today)")
    time_zone = serializers.CharField(required=False, default="UTC", validators=[validate_time_zone])
    charge_point = serializers.CharField(required=False, help_text="Only this charge point")

    def validate_since(self, value: date) -> date:
        return _within_range(value)

    def validate_until(self, value: date) -> date:
        return _within_range(value)

    def validate(self, data):
        zone = zoneinfo.ZoneInfo(data["time_zone"])
        today = timezone.now().astimezone(zone).date()
        data.setdefault("until", today)
        data.setdefault("since", max(FIRST_DAY, data["until"] - timedelta(days=DEFAULT_DAYS - 1)))
        if data["since"] > data["until"]:
            raise serializers.ValidationError("since is after until.")
        if (data["until"] - data["since"]).days > 3660:
            raise serializers.ValidationError("At most ten years at a time.")
        data["zone"] = zone
        data["start"] = datetime.combine(data["since"], datetime.min.time(), tzinfo=zone)
        data["end"] = datetime.combine(data["until"] + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return data


def _days(since: date, until: date):
    day = since
    while day <= until:
        yield day
        day += timedelta(days=1)


_ENERGY_WH = Greatest(
    Coalesce(F("meter_stop_wh"), F("meter_last_wh"), F("meter_start_wh")) - F("meter_start_wh"), Value(0)
)


class EnergyPerDayApi(OperatorApi):
    class OutputSerializer(serializers.Serializer):
        date = serializers.DateField()
        energy_wh = serializers.IntegerField()
        sessions = serializers.IntegerField()

    @extend_schema(tags=[STATISTICS], parameters=[StatisticsFilter], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = validated(StatisticsFilter, request.query_params)
        sessions = sessions_of(request.user).filter(started_at__gte=filters["start"], started_at__lt=filters["end"])
        if "charge_point" in filters:
            sessions = sessions.filter(charge_point__identity=filters["charge_point"])
        rows = (
            sessions.annotate(day=TruncDate("started_at", tzinfo=filters["zone"]))
            .values("day")
            .annotate(energy=Sum(_ENERGY_WH), count=Count("id"))
            .order_by("day")
        )
        by_day = {row["day"]: row for row in rows}
        return Response(
            [
                {
                    "date": day,
                    "energy_wh": int((by_day.get(day) or {}).get("energy") or 0),
                    "sessions": (by_day.get(day) or {}).get("count", 0),
                }
                for day in _days(filters["since"], filters["until"])
            ]
        )


class RevenuePerDayApi(OperatorApi):
    class OutputSerializer(serializers.Serializer):
        date = serializers.DateField()
        currency = serializers.CharField()
        revenue = serializers.DecimalField(
            max_digits=14, decimal_places=2, help_text="Total of non-void purchases, VAT included"
        )
        paid = serializers.DecimalField(max_digits=14, decimal_places=2)
        purchases = serializers.IntegerField()

    @extend_schema(tags=[STATISTICS], parameters=[StatisticsFilter], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = validated(StatisticsFilter, request.query_params)
        purchases = (
            purchases_of(request.user)
            .exclude(status=Purchase.Status.VOID)
            .filter(
                session__started_at__gte=filters["start"],
                session__started_at__lt=filters["end"],
            )
        )
        if "charge_point" in filters:
            purchases = purchases.filter(session__charge_point__identity=filters["charge_point"])
        rows = (
            purchases.annotate(day=TruncDate("session__started_at", tzinfo=filters["zone"]))
            .values("day", "currency")
            .annotate(
                revenue=Sum("total_price"),
                paid=Coalesce(Sum("total_price", filter=Q(status=Purchase.Status.PAID)), Value(Decimal("0"))),
                count=Count("id"),
            )
            .order_by("day", "currency")
        )
        serializer = self.OutputSerializer(
            [
                {
                    "date": row["day"],
                    "currency": row["currency"],
                    "revenue": row["revenue"],
                    "paid": row["paid"],
                    "purchases": row["count"],
                }
                for row in rows
            ],
            many=True,
        )
        return Response(serializer.data)


class UtilisationApi(OperatorApi):
    class OutputSerializer(serializers.Serializer):
        charge_point = serializers.CharField()
        connectors = serializers.IntegerField()
        sessions = serializers.IntegerField()
        energy_wh = serializers.IntegerField()
        busy_seconds = serializers.IntegerField(help_text="Connector-seconds with a session open")
        utilisation_percent = serializers.FloatField(help_text="busy_seconds / (period x connectors)")

    @extend_schema(tags=[STATISTICS], parameters=[StatisticsFilter], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = validated(StatisticsFilter, request.query_params)
        start, end = filters["start"].astimezone(UTC), filters["end"].astimezone(UTC)
        end_of_data = min(end, timezone.now())
        charge_points = charge_points_of(request.user).annotate(connector_count=Count("connectors"))
        if "charge_point" in filters:
            charge_points = charge_points.filter(identity=filters["charge_point"])
        sessions = (
            sessions_of(request.user)
            .filter(started_at__lt=end)
            .filter(Q(stopped_at__isnull=True) | Q(stopped_at__gt=start))
            .annotate(energy=_ENERGY_WH)
            .values("charge_point_id", "started_at", "stopped_at", "energy")
        )
        busy, energy, count = defaultdict(float), defaultdict(int), defaultdict(int)
        for session in sessions.iterator(chunk_size=1000):
            opened = max(session["started_at"], start)
            closed = min(session["stopped_at"] or end_of_data, end)
            busy[session["charge_point_id"]] += max(0.0, (closed - opened).total_seconds())
            energy[session["charge_point_id"]] += session["energy"] or 0
            count[session["charge_point_id"]] += 1
        period = max(1.0, (end_of_data - start).total_seconds())
        rows = []
        for charge_point in charge_points:
            capacity = period * max(1, charge_point.connector_count)
            rows.append(
                {
                    "charge_point": charge_point.identity,
                    "connectors": charge_point.connector_count,
                    "sessions": count[charge_point.pk],
                    "energy_wh": energy[charge_point.pk],
                    "busy_seconds": int(busy[charge_point.pk]),
                    "utilisation_percent": round(min(100.0, 100 * busy[charge_point.pk] / capacity), 2),
                }
            )
        return Response(rows)
