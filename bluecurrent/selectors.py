"""Reads for the Blue Current-compatible API.

Which chargers a driver reaches: the model has no owner link on a charge point. A driver
reaches the charge points of the operators that issued their accepted charge cards
(IdToken.user = driver and IdToken.operator = the site's operator). For a home charger this
means: the household's cards are issued under the operator that runs the home charger's site.
Cards without an operator (roaming cards) give no charger access. Swap
`charge_points_for_driver` when an explicit ownership link exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from billing.selectors import session_running_figures
from chargepoints.identity import identity_is_valid
from chargepoints.models import ChargePoint, ChargingProfile, Connector, IdToken, IdTokenStatus
from sessions_app.models import ChargeSession, MeterSample

HOME_API_SOURCE = "home-api"
READING_MAX_AGE = timedelta(minutes=15)


def charge_points_for_driver(*, user: User) -> QuerySet[ChargePoint]:
    operator_ids = (
        IdToken.objects.filter(user=user, status=IdTokenStatus.ACCEPTED, operator__isnull=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .values("operator_id")
    )
    return ChargePoint.objects.select_related("site").filter(site__operator_id__in=operator_ids).order_by("identity")


def charge_point_for_driver(*, user: User, evse_id: str) -> ChargePoint | None:
    if not identity_is_valid(evse_id):
        return None
    return charge_points_for_driver(user=user).filter(identity=evse_id).first()


def charge_cards_for_driver(*, user: User, limit: int = 100) -> list[IdToken]:
    return list(IdToken.objects.filter(user=user).order_by("uid")[: max(1, min(limit, 1000))])


def charge_card_for_driver(*, user: User, uid: str) -> IdToken | None:
    """A usable card of this driver. The client's placeholder "BCU-APP" (start without a
    card) picks the driver's first usable card."""
    cards = IdToken.objects.filter(user=user, status=IdTokenStatus.ACCEPTED).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    if not uid or uid == "BCU-APP":
        return cards.order_by("uid").first()
    return cards.filter(uid=uid).first()


def main_connector(*, charge_point: ChargePoint) -> Connector | None:
    """The connector the API reports on: the one with an active session, else the first."""
    connectors = list(charge_point.connectors.order_by("connector_id"))
    if not connectors:
        return None
    active = set(
        ChargeSession.objects.filter(charge_point=charge_point, status=ChargeSession.Status.ACTIVE).values_list(
            "connector_id", flat=True
        )
    )
    for connector in connectors:
        if connector.pk in active:
            return connector
    return connectors[0]


def latest_session(*, charge_point: ChargePoint, connector: Connector | None) -> ChargeSession | None:
    qs = ChargeSession.objects.filter(charge_point=charge_point)
    if connector is not None:
        qs = qs.filter(connector=connector)
    active = qs.filter(status=ChargeSession.Status.ACTIVE).first()
    return active or qs.order_by("-started_at").first()


def running_session(*, charge_point: ChargePoint, connector: Connector | None) -> ChargeSession | None:
    """The session charging on this connector now, if any."""
    if connector is None:
        return None
    return ChargeSession.objects.filter(
        charge_point=charge_point, connector=connector, status=ChargeSession.Status.ACTIVE
    ).first()


def phase_readings(*, session: ChargeSession | None) -> dict[str, dict[int, float]]:
    """Latest per-phase voltage and current of the running session:
    {"Voltage": {1: 230.1, ...}, "Current.Import": {...}}. Readings taken outside a session
    (a charger's idle samples, the last ones of a finished session) never count: an idle
    charger draws nothing, whatever it reported a few minutes ago."""
    readings: dict[str, dict[int, float]] = {"Voltage": {}, "Current.Import": {}}
    if session is None or not session.is_active:
        return readings
    since = max(session.started_at, timezone.now() - READING_MAX_AGE)
    rows = (
        MeterSample.objects.filter(session=session, sampled_at__gte=since, measurand__in=["Voltage", "Current.Import"])
        .exclude(phase="")
        .order_by("-sampled_at", "-id")
        .values_list("measurand", "phase", "value")[:60]
    )
    for measurand, phase, value in rows:
        number = _phase_number(phase)
        if number and number not in readings[measurand]:
            readings[measurand][number] = float(value)
    return readings


def _phase_number(phase: str) -> int | None:
    # "L1", "L1-N", "L2-N", ... ; line-to-line voltages ("L1-L2") are not phase readings.
    if phase in ("L1", "L1-N"):
        return 1
    if phase in ("L2", "L2-N"):
        return 2
    if phase in ("L3", "L3-N"):
        return 3
    return None


def session_figures(*, session: ChargeSession | None) -> tuple[Decimal, Decimal]:
    """(kWh, cost so far) of a session, both from billing's one pricing."""
    if session is None:
        return Decimal("0"), Decimal("0")
    try:
        figures = session_running_figures(session=session)
    except Exception:  # a missing tariff must not break a status frame
        import logging

        logging.getLogger(__name__).warning("running cost of session %s failed", session.pk, exc_info=True)
        return Decimal(session.energy_wh) / 1000, Decimal("0")
    return Decimal(figures.energy_wh) / 1000, figures.total


def home_profiles(*, charge_point: ChargePoint, kind: str) -> QuerySet[ChargingProfile]:
    """Charging profiles this API set, newest first. `kind` is delayed, price or override."""
    return ChargingProfile.objects.filter(charge_point=charge_point, source=f"{HOME_API_SOURCE}:{kind}").order_by(
        "-created_at", "-id"
    )


def home_profile_latest(*, charge_point: ChargePoint, kind: str) -> ChargingProfile | None:
    return home_profiles(charge_point=charge_point, kind=kind).first()


def home_profile_enabled(profile: ChargingProfile | None) -> bool:
    return profile is not None and profile.status in (ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE)


@dataclass
class OverrideSchedule:
    schedule_id: int
    charge_points: list[str] = field(default_factory=list)
    start_time: str = ""
    stop_time: str = ""
    start_days: list[str] = field(default_factory=list)
    stop_days: list[str] = field(default_factory=list)
    current: float = 0


def override_schedules_for_driver(*, user: User) -> list[OverrideSchedule]:
    """Live override-current schedules on the driver's chargers, grouped by schedule id."""
    rows = (
        ChargingProfile.objects.filter(
            charge_point__in=charge_points_for_driver(user=user),
            source=f"{HOME_API_SOURCE}:override",
            status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE],
        )
        .select_related("charge_point")
        .order_by("profile_id", "charge_point__identity")
    )
    schedules: dict[int, OverrideSchedule] = {}
    for row in rows:
        params = (row.schedule or {}).get("customData", {})
        schedule = schedules.get(row.profile_id)
        if schedule is None:
            schedule = schedules[row.profile_id] = OverrideSchedule(
                schedule_id=row.profile_id,
                start_time=params.get("startTime", ""),
                stop_time=params.get("stopTime", ""),
                start_days=list(params.get("startDays", [])),
                stop_days=list(params.get("stopDays", [])),
                current=params.get("current", 0),
            )
        schedule.charge_points.append(row.charge_point.identity)
    return list(schedules.values())
