"""Reads of load management: a managed site's electrical picture for the allocator (the
running sessions, their connectors' limits, the other limits in force, what each car
draws) and what the operator pages and API show."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from chargepoints.models import ChargePoint, ChargingProfile, Connector, OcppVersion
from loadmanagement import allocator, profiles
from loadmanagement.models import (
    ChargingPriority,
    ConnectorAllocation,
    FeederGroup,
    LimitStatus,
    SiteLoadSample,
    SiteLoadSettings,
)
from sessions_app.models import ChargeSession, MeterSample

CURRENT = "Current.Import"
DEFAULT_MAX_AMPS = Decimal("32")
DEFAULT_MIN_AMPS = Decimal("6")
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}
# A phase counts as drawing above this; a three-phase connector with one phase drawing is
# taken for a one-phase car on that phase.
DRAWING_AMPS = 1.0
IDLE_AMPS = 0.5


@dataclass(frozen=True)
class Car:
    """A running session on a managed site, and how to reach its charger."""

    connector_pk: int
    connector_id: int
    evse_id: int
    session_pk: int
    transaction_id: str
    charge_point_pk: int
    identity: str
    protocol: str
    demand: allocator.Demand
    allocation: ConnectorAllocation | None
    draw: list[float] | None  # latest current per phase
    draw_at: datetime | None
    # The limit the car follows before its first TxProfile: the charger's fail-safe
    # default when it took ours (None: unknown, maybe the charger's maximum).
    fail_safe_amps: Decimal | None = None


@dataclass
class SitePicture:
    settings: SiteLoadSettings
    state: allocator.SiteState
    cars: list[Car] = field(default_factory=list)
    capacity_amps: Decimal | None = None  # per phase, net of the margin (None: kW only)


def _voltage() -> float:
    return float(settings.LOADMANAGEMENT_NOMINAL_VOLTAGE)


def amps_from_kw(kw: Decimal | None, phases: int) -> Decimal | None:
    if kw is None:
        return None
    return (Decimal(kw) * 1000 / (Decimal(settings.LOADMANAGEMENT_NOMINAL_VOLTAGE) * phases)).quantize(Decimal("0.1"))


def site_capacity(load: SiteLoadSettings) -> allocator.Capacity:
    """The site's capacity as the allocator reads it; its own amperes, else the site's grid
    capacity, and its kW as phase-amperes."""
    per_phase = load.capacity_amps if load.capacity_amps is not None else load.site.grid_capacity_amps
    total = None if load.capacity_kw is None else Decimal(load.capacity_kw) * 1000 / Decimal(_voltage())
    return allocator.Capacity(amps_per_phase=per_phase, total_phase_amps=total, margin_amps=load.safety_margin_amps)


def net_capacity_amps(capacity: allocator.Capacity) -> Decimal | None:
    """Per phase, net of the margin: what the site's limits may add up to."""
    candidates = []
    if capacity.amps_per_phase is not None:
        candidates.append(Decimal(capacity.amps_per_phase) - Decimal(capacity.margin_amps))
    if capacity.total_phase_amps is not None:
        candidates.append(Decimal(capacity.total_phase_amps) / 3 - Decimal(capacity.margin_amps))
    return max(Decimal(0), min(candidates)).quantize(Decimal("0.1")) if candidates else None


def _feeder_nodes(site_id: int) -> tuple[allocator.Node, ...]:
    return tuple(
        allocator.Node(
            key=feeder.pk,
            parent=feeder.parent_id,
            capacity=allocator.Capacity(
                amps_per_phase=feeder.capacity_amps,
                total_phase_amps=None
                if feeder.capacity_kw is None
                else Decimal(feeder.capacity_kw) * 1000 / Decimal(_voltage()),
                margin_amps=feeder.safety_margin_amps,
            ),
        )
        for feeder in FeederGroup.objects.filter(site_id=site_id)
        if feeder.capacity_amps is not None or feeder.capacity_kw is not None
    )


def _profile_target(connector: Connector, protocol: str) -> int:
    """The connector number a charging profile row of this connector carries."""
    return connector.evse.evse_id if protocol == OcppVersion.V201 else connector.connector_id


def _other_limits(charge_point_ids: set[int]) -> dict[int, list[ChargingProfile]]:
    """Live profiles others set (the Blue Current API, /API/SetChargingLimit, remote starts)."""
    rows = ChargingProfile.objects.filter(
        charge_point_id__in=charge_point_ids, status=ChargingProfile.Status.ACTIVE
    ).exclude(source=profiles.SOURCE)
    by_charger: dict[int, list[ChargingProfile]] = defaultdict(list)
    for row in rows:
        by_charger[row.charge_point_id].append(row)
    return by_charger


def _other_limit_now(
    rows: list[ChargingProfile], target: int, session: ChargeSession, phases: int, now
) -> float | None:
    limits = []
    for row in rows:
        if row.connector_id not in (0, target) or not isinstance(row.schedule, dict):
            continue
        limit = profiles.limit_now(
            schedule=row.schedule,
            kind=row.kind,
            recurrency_kind=row.recurrency_kind,
            now=now,
            transaction_start=session.started_at,
            voltage=_voltage(),
            phases=phases,
        )
        if limit is not None:
            limits.append(limit)
    return min(limits) if limits else None


def _max_amps(session: ChargeSession, phases: int, other_limit: float | None) -> Decimal:
    connector, charge_point = session.connector, session.charge_point
    connector_load = getattr(connector, "load", None)
    charger_load = getattr(charge_point, "load", None)
    candidates = [
        connector_load.max_current_amps if connector_load else None,
        amps_from_kw(connector.max_power_kw, phases),
        charger_load.max_current_amps if charger_load else None,
        amps_from_kw(charge_point.max_power_kw, 3),
        None if other_limit is None else Decimal(str(math.floor(other_limit * 10) / 10)),
    ]
    present = [Decimal(c) for c in candidates if c is not None]
    return min(present) if present else DEFAULT_MAX_AMPS


def _samples(session_ids: list[int], since: datetime) -> dict[int, dict[datetime, list[float]]]:
    """Current per phase of each session since `since`: {session: {time: [L1, L2, L3]}}."""
    by_session: dict[int, dict[datetime, list[float]]] = defaultdict(dict)
    rows = MeterSample.objects.filter(session_id__in=session_ids, measurand=CURRENT, sampled_at__gte=since).values_list(
        "session_id", "sampled_at", "phase", "value"
    )
    for session_id, at, phase, value in rows:
        index = PHASE_INDEX.get((phase or "L1")[:2])
        if index is None:
            continue
        by_session[session_id].setdefault(at, [0.0, 0.0, 0.0])[index] = float(value)
    return by_session


def _phases(connector_load, latest: list[float] | None) -> tuple[int, ...]:
    if connector_load is not None and connector_load.phases == 1:
        return (PHASE_INDEX[connector_load.phase],)
    if latest is not None:
        drawing = [i for i, amps in enumerate(latest) if amps > DRAWING_AMPS]
        if len(drawing) == 1 and all(latest[i] < IDLE_AMPS for i in range(3) if i != drawing[0]):
            return (drawing[0],)  # a one-phase car on a three-phase connector
    return (0, 1, 2)


def _drawn(
    allocation: ConnectorAllocation | None, session: ChargeSession, readings: dict[datetime, list[float]], now
) -> float | None:
    """What the car drew at most over the last few minutes, when that was well below the
    limit in force all along (None otherwise): the "unused" strategy gives the rest away."""
    window = timedelta(seconds=settings.LOADMANAGEMENT_UNUSED_AFTER_SECONDS)
    if allocation is None or allocation.session_id != session.pk or allocation.status != LimitStatus.ACCEPTED:
        return None
    if allocation.sent_at is None or allocation.sent_at > now - window or not allocation.limit_amps:
        return None
    in_window = [max(values) for at, values in readings.items() if at >= now - window]
    if not in_window or min(readings) > now - window * 0.75:
        return None  # too few readings to tell
    drawn = max(in_window)
    if drawn + settings.LOADMANAGEMENT_UNUSED_HEADROOM_AMPS >= float(allocation.limit_amps):
        return None
    return drawn


# A charger that did not answer a limit in time gets it again after this long.
PENDING_RETRY = timedelta(minutes=5)


def _uncontrolled(allocation: ConnectorAllocation | None, session: ChargeSession, charge_point, now) -> bool:
    """A car we cannot set a limit on now, which may draw its maximum and counts at that:
    its charger refused our limit (until the session ends), or did not answer it and is
    offline, or did not answer it a moment ago (tried again after PENDING_RETRY)."""
    if allocation is None or allocation.session_id != session.pk:
        return False
    if allocation.status == LimitStatus.REJECTED:
        return True
    if allocation.status in (LimitStatus.PENDING, LimitStatus.OFFLINE):
        if not charge_point.is_online:
            return True
        return allocation.status == LimitStatus.PENDING and (
            allocation.sent_at is not None and allocation.sent_at > now - PENDING_RETRY
        )
    return False


def _priorities(sessions: list[ChargeSession]) -> dict[int, int]:
    tokens = {s.id_token_id for s in sessions if s.id_token_id}
    users = {s.user_id for s in sessions if s.user_id}
    rows = ChargingPriority.objects.filter(Q(id_token_id__in=tokens) | Q(user_id__in=users))
    by_token = {r.id_token_id: r.priority for r in rows if r.id_token_id}
    by_user = {r.user_id: r.priority for r in rows if r.user_id}
    out = {}
    for session in sessions:
        found = [p for p in (by_token.get(session.id_token_id), by_user.get(session.user_id)) if p is not None]
        out[session.pk] = max(found) if found else 0
    return out


def site_picture(*, site_id: int, now: datetime | None = None) -> SitePicture | None:
    """A managed site's state for the allocator; None when load management is off there."""
    now = now or timezone.now()
    load = SiteLoadSettings.objects.select_related("site").filter(site_id=site_id, enabled=True).first()
    if load is None:
        return None
    sessions = list(
        ChargeSession.objects.filter(charge_point__site_id=site_id, status=ChargeSession.Status.ACTIVE)
        .select_related("connector__evse", "connector__load", "charge_point__load")
        .order_by("started_at", "pk")
    )
    allocations = {
        a.connector_id: a for a in ConnectorAllocation.objects.filter(connector__charge_point__site_id=site_id)
    }
    window = timedelta(seconds=settings.LOADMANAGEMENT_UNUSED_AFTER_SECONDS)
    readings = _samples([s.pk for s in sessions], since=now - max(window, timedelta(minutes=5)))
    others = _other_limits({s.charge_point_id for s in sessions})
    priorities = _priorities(sessions)
    fail_safes = fail_safes_in_place({s.charge_point_id for s in sessions})
    cars = []
    for arrival, session in enumerate(sessions):
        connector, charge_point = session.connector, session.charge_point
        connector_load = getattr(connector, "load", None)
        session_readings = readings.get(session.pk, {})
        latest_at = max(session_readings) if session_readings else None
        latest = session_readings[latest_at] if latest_at else None
        phases = _phases(connector_load, latest)
        allocation = allocations.get(connector.pk)
        other = _other_limit_now(
            others.get(charge_point.pk, []),
            _profile_target(connector, charge_point.protocol),
            session,
            len(phases),
            now,
        )
        refused = _uncontrolled(allocation, session, charge_point, now)
        charger_load = getattr(charge_point, "load", None)
        demand = allocator.Demand(
            key=connector.pk,
            min_amps=connector_load.min_current_amps if connector_load else DEFAULT_MIN_AMPS,
            max_amps=_max_amps(session, len(phases), other),
            phases=phases,
            node=charger_load.feeder_id if charger_load and charger_load.feeder_id else None,
            priority=priorities.get(session.pk, 0),
            arrival=arrival,
            drawn_amps=_drawn(allocation, session, session_readings, now),
            fixed=refused,
        )
        cars.append(
            Car(
                connector_pk=connector.pk,
                connector_id=connector.connector_id,
                evse_id=connector.evse.evse_id,
                session_pk=session.pk,
                transaction_id=session.transaction_id,
                charge_point_pk=charge_point.pk,
                identity=charge_point.identity,
                protocol=charge_point.protocol,
                demand=demand,
                allocation=allocation,
                draw=latest,
                draw_at=latest_at,
                fail_safe_amps=fail_safes.get(charge_point.pk),
            )
        )
    capacity = site_capacity(load)
    nodes = _feeder_nodes(site_id)
    known = {node.key for node in nodes}
    cars = [c if c.demand.node in known or c.demand.node is None else _under_site(c) for c in cars]
    reserves = _idle_reserves(site_id, {c.connector_pk for c in cars}, fail_safe_amps(load=load), known)
    state = allocator.SiteState(
        site=capacity,
        demands=tuple(c.demand for c in cars) + tuple(reserves),
        strategy=load.strategy,
        nodes=nodes,
        unused_headroom_amps=settings.LOADMANAGEMENT_UNUSED_HEADROOM_AMPS,
    )
    return SitePicture(settings=load, state=state, cars=cars, capacity_amps=net_capacity_amps(capacity))


def _under_site(car: Car) -> Car:
    """A car behind a feeder group without a capacity: only the site limits it."""
    from dataclasses import replace

    return replace(car, demand=replace(car.demand, node=None))


def managed_site_of(*, charge_point_id: int) -> int | None:
    """The site of a charger when load management is on there."""
    return (
        SiteLoadSettings.objects.filter(enabled=True, site__charge_points=charge_point_id)
        .values_list("site_id", flat=True)
        .first()
    )


def managed_sites_of(*, charge_point_ids: list[int]) -> dict[int, int]:
    """managed_site_of for many chargers in one query: {charger id: site id}, for the
    chargers whose site has load management on."""
    return dict(
        ChargePoint.objects.filter(pk__in=set(charge_point_ids), site__load_settings__enabled=True).values_list(
            "pk", "site_id"
        )
    )


def managed_site_ids() -> list[int]:
    return list(SiteLoadSettings.objects.filter(enabled=True).values_list("site_id", flat=True))


def fail_safes_in_place(charge_point_ids: set[int]) -> dict[int, Decimal]:
    """The fail-safe limit each charger took (charger id -> A), from the profiles recorded."""
    rows = ChargingProfile.objects.filter(
        charge_point_id__in=charge_point_ids,
        profile_id=profiles.FAIL_SAFE_PROFILE_ID,
        status=ChargingProfile.Status.ACTIVE,
        source=profiles.SOURCE,
    ).order_by("updated_at")
    found = {}
    for row in rows:
        periods = (row.schedule or {}).get("chargingSchedulePeriod") if isinstance(row.schedule, dict) else None
        if periods:
            found[row.charge_point_id] = Decimal(str(periods[0].get("limit")))
    return found


def fail_safe_amps(*, load: SiteLoadSettings) -> Decimal:
    """What a connector without a session may start at: its fail-safe default (0 unless the
    operator reserves more)."""
    return Decimal(load.fail_safe_amps or 0)


def _idle_reserves(site_id: int, busy: set[int], share: Decimal, feeders: set) -> list[allocator.Demand]:
    """The fail-safe share of every connector without a session, kept free: a car that
    starts there (before the back office has answered, or while it is unreachable) draws at
    most that much, and the site stays within its capacity."""
    if share <= 0:
        return []
    connectors = Connector.objects.filter(charge_point__site_id=site_id).exclude(pk__in=busy)
    rows = connectors.values_list("pk", "charge_point__load__feeder_id")
    return [
        allocator.Demand(
            key=f"idle-{pk}", min_amps=share, max_amps=share, node=feeder if feeder in feeders else None, fixed=True
        )
        for pk, feeder in rows
    ]


def site_chargers(*, site_id: int) -> list[ChargePoint]:
    return list(ChargePoint.objects.filter(site_id=site_id).order_by("identity"))


def site_load_history(*, site_id: int, since: datetime) -> list[SiteLoadSample]:
    return list(SiteLoadSample.objects.filter(site_id=site_id, at__gte=since).order_by("at"))


def site_allocation_rows(*, site_id: int) -> list[dict]:
    """Every connector of the site with its limit, status and latest draw (its session's
    newest Current.Import readings), for the portal and the operator API."""
    connectors = (
        Connector.objects.filter(charge_point__site_id=site_id)
        .select_related("charge_point", "allocation", "load")
        .order_by("charge_point__identity", "connector_id")
    )
    connectors = list(connectors)
    sessions = {
        s.connector_id: s.pk
        for s in ChargeSession.objects.filter(connector__in=connectors, status=ChargeSession.Status.ACTIVE).only(
            "pk", "connector_id"
        )
    }
    readings = _samples(list(sessions.values()), since=timezone.now() - timedelta(minutes=5))
    rows = []
    for connector in connectors:
        allocation = getattr(connector, "allocation", None)
        load = getattr(connector, "load", None)
        live = allocation is not None and allocation.session_id is not None
        session_readings = readings.get(sessions.get(connector.pk), {})
        draw = [round(a, 1) for a in session_readings[max(session_readings)]] if session_readings else []
        rows.append(
            {
                "charge_point": connector.charge_point.identity,
                "connector_id": connector.connector_id,
                "status": connector.status,
                "phases": load.phases if load else 3,
                "min_amps": load.min_current_amps if load else DEFAULT_MIN_AMPS,
                "max_amps": load.max_current_amps if load else None,
                "session_id": allocation.session_id if live else None,
                "limit_amps": allocation.limit_amps if live else None,
                "limit_status": allocation.status if live else "",
                "draw_amps": draw or (allocation.draw_amps if live else []),
                "over_limit": bool(live and allocation.over_limit_since),
            }
        )
    return rows
