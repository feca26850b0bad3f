"""Charging schedules for the smart-charging settings the client sends.

- delayed charging: on the chosen days, charging is allowed only between start_time and
  end_time (local time of the charger's site); outside those windows the limit is 0 A.
  A weekly Recurring TxDefaultProfile (stack level 1) on connector 0.
- price-based charging: from now until the expected departure, charge at full current until
  the minimum battery percentage is reached, then in the cheapest hours (tariffs'
  ElectricityPrice) until the battery is full. An Absolute TxDefaultProfile (stack level 2).
- override current: on the chosen start days/times the charger is limited to the given
  current until the matching stop day/time. A weekly Recurring ChargePointMaxProfile.
Schedules are in amperes; weeks start Monday 00:00 local time (DST shifts within a week are
not compensated).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from chargepoints.models import ChargePoint
from tariffs.models import ElectricityPrice

WEEK = 7 * 86400
DAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
DELAYED_PROFILE_ID = 9101
PRICE_PROFILE_ID = 9102
OVERRIDE_FIRST_ID = 9200
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?$")


class ScheduleError(ValueError):
    pass


def parse_time(value: object) -> int:
    """ "HH:MM" -> seconds after midnight."""
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        raise ScheduleError(f"invalid time {value!r}, expected HH:MM")
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60


def parse_day_numbers(value: object) -> list[int]:
    """The client sends days as "[1,2,5]" (1 = Monday)."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [part for part in value.strip().strip("[]").split(",") if part.strip()]
    else:
        raise ScheduleError("invalid days")
    try:
        days = sorted({int(str(item).strip()) for item in items})
    except ValueError:
        raise ScheduleError("invalid days") from None
    if any(day < 1 or day > 7 for day in days):
        raise ScheduleError("days must be 1 (Monday) to 7 (Sunday)")
    return days


def parse_day_codes(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ScheduleError("days must be a non-empty list of MO..SU")
    codes = [str(code).upper() for code in value]
    if any(code not in DAY_CODES for code in codes):
        raise ScheduleError("days must be MO, TU, WE, TH, FR, SA or SU")
    return codes


def time_zone(charge_point: ChargePoint) -> ZoneInfo:
    return ZoneInfo(charge_point.site.time_zone if charge_point.site_id else "UTC")


def max_current(charge_point: ChargePoint) -> int:
    """The charger's rated current per phase (A), from its rated power on three phases."""
    kw = charge_point.max_power_kw
    if kw is None:
        kws = [c.max_power_kw for c in charge_point.connectors.all() if c.max_power_kw is not None]
        kw = max(kws) if kws else Decimal("11")
    return max(6, round(Decimal(kw) * 1000 / (3 * settings.BLUECURRENT_NOMINAL_VOLTAGE)))


def week_start(charge_point: ChargePoint, now: datetime | None = None) -> datetime:
    local = (now or timezone.now()).astimezone(time_zone(charge_point))
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=local.tzinfo)


def _periods(windows: list[tuple[int, int]], inside: float, outside: float) -> list[dict]:
    """Weekly windows (seconds from Monday 00:00, may wrap) -> chargingSchedulePeriod."""
    segments: list[tuple[int, int]] = []
    for start, end in windows:
        start, end = start % WEEK, start % WEEK + (end - start)
        if end > WEEK:
            segments += [(start, WEEK), (0, end - WEEK)]
        else:
            segments.append((start, end))
    segments.sort()
    merged: list[list[int]] = []
    for start, end in segments:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    periods: list[dict] = []
    cursor = 0
    for start, end in merged:
        if start > cursor:
            periods.append({"startPeriod": cursor, "limit": outside})
        periods.append({"startPeriod": start, "limit": inside})
        cursor = end
    if cursor < WEEK:
        periods.append({"startPeriod": cursor, "limit": outside})
    # Collapse neighbours with the same limit.
    collapsed: list[dict] = []
    for period in periods:
        if not collapsed or collapsed[-1]["limit"] != period["limit"]:
            collapsed.append(period)
    return collapsed


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def limit_at(schedule: dict, moment: datetime) -> float | None:
    """The limit a weekly schedule we built (delayed or override) sets at `moment`, or None
    when it cannot be read. The week repeats from its startSchedule."""
    try:
        start = datetime.fromisoformat(schedule["startSchedule"].replace("Z", "+00:00"))
        periods = sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
        offset = (moment - start).total_seconds() % int(schedule.get("duration") or WEEK)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    limit = None
    for period in periods:
        if period["startPeriod"] > offset:
            break
        limit = period["limit"]
    return limit


def delayed_schedule(charge_point: ChargePoint, *, days: list[int], start_time: str, end_time: str) -> dict:
    start, end = parse_time(start_time), parse_time(end_time)
    windows = []
    for day in days:
        base = (day - 1) * 86400
        windows.append((base + start, base + end + (86400 if end <= start else 0)))
    periods = (
        _periods(windows, inside=float(max_current(charge_point)), outside=0.0)
        if days
        else [{"startPeriod": 0, "limit": float(max_current(charge_point))}]
    )
    return {
        "duration": WEEK,
        "startSchedule": _iso(week_start(charge_point)),
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": periods,
        "customData": {"vendorId": "csms.home-api", "days": days, "startTime": start_time, "endTime": end_time},
    }


def override_schedule(
    charge_point: ChargePoint,
    *,
    start_days: list[str],
    start_time: str,
    stop_days: list[str],
    stop_time: str,
    current: float,
    schedule_id: int,
) -> dict:
    start, stop = parse_time(start_time), parse_time(stop_time)
    windows = []
    for index, code in enumerate(start_days):
        stop_code = stop_days[index] if index < len(stop_days) else stop_days[-1]
        begin = DAY_CODES.index(code) * 86400 + start
        finish = DAY_CODES.index(stop_code) * 86400 + stop
        if finish <= begin:
            finish += WEEK
        windows.append((begin, finish))
    return {
        "duration": WEEK,
        "startSchedule": _iso(week_start(charge_point)),
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": _periods(windows, inside=float(current), outside=float(max_current(charge_point))),
        "customData": {
            "vendorId": "csms.home-api",
            "scheduleId": schedule_id,
            "startDays": start_days,
            "startTime": start_time,
            "stopDays": stop_days,
            "stopTime": stop_time,
            "current": current,
        },
    }


PRICE_DEFAULTS = {
    "expected_departure_time": "07:00",
    "current_battery_pct": 20,
    "minimum_pct": 20,
    "battery_size_kwh": 60,
}


def next_departure(charge_point: ChargePoint, departure: str, now: datetime) -> datetime:
    seconds = parse_time(departure)
    local = now.astimezone(time_zone(charge_point))
    moment = datetime.combine(local.date(), time(seconds // 3600, seconds % 3600 // 60), tzinfo=local.tzinfo)
    if moment <= local:
        moment += timedelta(days=1)
    return moment


def hourly_prices(start: datetime, end: datetime) -> dict[datetime, Decimal]:
    rows = ElectricityPrice.objects.filter(starts_at__gte=start, starts_at__lt=end).order_by("starts_at")
    prices: dict[datetime, Decimal] = {}
    for row in rows:
        prices.setdefault(row.starts_at, row.price_per_kwh)
    return prices


def price_schedule(charge_point: ChargePoint, *, params: dict, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    settings_ = {**PRICE_DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    start = now.replace(minute=0, second=0, microsecond=0)
    departure = next_departure(charge_point, settings_["expected_departure_time"], now)
    hours = max(1, math.ceil((departure - start).total_seconds() / 3600))
    amps = max_current(charge_point)
    kw = amps * 3 * settings.BLUECURRENT_NOMINAL_VOLTAGE / 1000
    battery = float(settings_["battery_size_kwh"])
    current_pct, minimum_pct = float(settings_["current_battery_pct"]), float(settings_["minimum_pct"])
    urgent_kwh = max(0.0, minimum_pct - current_pct) * battery / 100
    rest_kwh = max(0.0, 100 - max(current_pct, minimum_pct)) * battery / 100
    urgent_hours = math.ceil(urgent_kwh / kw) if urgent_kwh else 0
    slots = [start + timedelta(hours=h) for h in range(hours)]
    prices = hourly_prices(start, start + timedelta(hours=hours))
    chosen = set(slots[:urgent_hours])
    remaining = [slot for slot in slots[urgent_hours:]]
    needed = math.ceil(rest_kwh / kw) if rest_kwh else 0
    if prices:
        remaining.sort(key=lambda slot: (prices.get(slot, Decimal("999999")), slot))
    chosen.update(remaining[:needed])
    periods = []
    for index, slot in enumerate(slots):
        limit = float(amps) if slot in chosen else 0.0
        if not periods or periods[-1]["limit"] != limit:
            periods.append({"startPeriod": index * 3600, "limit": limit})
    return {
        "duration": hours * 3600,
        "startSchedule": _iso(start),
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": periods,
        "customData": {"vendorId": "csms.home-api", **settings_},
    }


def for_ocpp16(schedule: dict) -> dict:
    """The chargingSchedule without our customData (OCPP 1.6 has no extension fields)."""
    return {key: value for key, value in schedule.items() if key != "customData"}
