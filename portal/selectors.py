"""Reads behind the operator portal: scoping to the staff user's operator, and the
aggregates of the dashboard, map, lists and detail pages.

Every query here is bounded (a page, a fixed window, or one row per status/day) so page
times stay flat as the database grows; callers never iterate relations per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Substr, TruncDate
from django.utils import timezone

from accounts.models import User
from billing.models import Purchase, PurchaseLine, Wallet, WalletEntry
from billing.pricing import PricingError
from billing.selectors import session_running_figures
from chargepoints.models import (
    ChargePoint,
    ChargePointEvent,
    ConfigurationKey,
    Connector,
    ConnectorStatus,
    ConnectorStatusChange,
    DeviceVariable,
    IdToken,
    IdTokenStatus,
    OcppMessage,
    Site,
)
from payments.models import Payment
from sessions_app.curve import session_charging_curve
from sessions_app.models import ChargeSession, MeterSample, SessionAnomaly
from sessions_app.selectors import (
    CHARGING_DISPLAY_STATUSES,
    active_charging_state,
    connector_display_status,
    connector_is_charging,
    driver_of_operator,
)
from tariffs.models import Tariff
from tariffs.selectors import tariff_for_charge_point

# --- scoping ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a portal user may see: everything (superuser) or one operator's data.
    Staff without an operator see nothing rather than everything."""

    operator_id: int | None
    everything: bool

    @property
    def cache_key(self) -> str:
        if self.everything:
            return "all"
        return f"op{self.operator_id}" if self.operator_id is not None else "none"

    def filter(self, qs: QuerySet, operator_path: str) -> QuerySet:
        if self.everything:
            return qs
        if self.operator_id is None:
            return qs.none()
        return qs.filter(**{operator_path: self.operator_id})


def scope_for(user: User) -> Scope:
    return Scope(operator_id=user.operator_id, everything=bool(user.is_superuser))


def site_list(*, scope: Scope) -> QuerySet[Site]:
    return scope.filter(Site.objects.all(), "operator_id")


def charge_point_qs(*, scope: Scope) -> QuerySet[ChargePoint]:
    return scope.filter(ChargePoint.objects.all(), "site__operator_id")


def _scoped_by_charger(qs: QuerySet, scope: Scope, charger_path: str, *, walk: bool = False) -> QuerySet:
    """Scope rows through their charger with `charger IN (the operator's chargers)`
    rather than a join up to the site: the planner can then use the
    (charge_point, started_at) index for the dashboard's per-day aggregates.

    walk=True writes the test as `charger + 0 IN (...)`, which no index on the charger
    column can serve. Lists ordered by the primary key, and aggregates over an indexed
    created_at range, then walk that index and check each row against the (small,
    hashed) set of chargers, stopping at the page. With a plain IN, SQLite instead
    fetched every row of every one of the operator's chargers through the charger index
    and sorted them all for a page of 50 (EXPLAIN QUERY PLAN: USE TEMP B-TREE FOR ORDER
    BY over ~90,000 rows)."""
    if scope.everything:
        return qs
    if scope.operator_id is None:
        return qs.none()
    chargers = ChargePoint.objects.filter(site__operator_id=scope.operator_id).values("id")
    if walk:
        qs = qs.alias(_scope_charger=ExpressionWrapper(F(charger_path) + Value(0), output_field=BigIntegerField()))
        return qs.filter(_scope_charger__in=chargers)
    return qs.filter(**{f"{charger_path}__in": chargers})


def session_qs(*, scope: Scope, walk: bool = False) -> QuerySet[ChargeSession]:
    return _scoped_by_charger(ChargeSession.objects.all(), scope, "charge_point_id", walk=walk)


def purchase_qs(*, scope: Scope, walk: bool = False) -> QuerySet[Purchase]:
    return _scoped_by_charger(Purchase.objects.all(), scope, "session__charge_point_id", walk=walk)


def payment_qs(*, scope: Scope, walk: bool = False) -> QuerySet[Payment]:
    # Top-ups belong to no operator: only superusers see them.
    return _scoped_by_charger(Payment.objects.all(), scope, "purchase__session__charge_point_id", walk=walk)


def driver_qs(*, scope: Scope) -> QuerySet[User]:
    """Drivers are shared by all operators; an operator sees those who charged at its
    chargers or hold one of its cards."""
    drivers = User.objects.filter(is_staff=False, phone__isnull=False)
    if scope.everything:
        return drivers
    if scope.operator_id is None:
        return drivers.none()
    return drivers.filter(_driver_of_operator(scope, "pk"))


def _driver_of_operator(scope: Scope, user_ref: str) -> Q:
    return driver_of_operator(operator_id=scope.operator_id, user_ref=user_ref)


def charge_point_get(*, scope: Scope, identity: str) -> ChargePoint | None:
    return charge_point_qs(scope=scope).select_related("site", "site__operator").filter(identity=identity).first()


def session_get(*, scope: Scope, session_id: int) -> ChargeSession | None:
    return (
        session_qs(scope=scope)
        .select_related("charge_point", "charge_point__site", "connector", "user", "id_token")
        .filter(pk=session_id)
        .first()
    )


# --- dashboard -------------------------------------------------------------------------

CENTS = Decimal("0.01")
CHARGING_STATUSES = CHARGING_DISPLAY_STATUSES


def charger_counts(*, scope: Scope) -> dict[str, int]:
    """Chargers online/offline, and connectors charging/faulted: two aggregate queries."""
    chargers = charge_point_qs(scope=scope).aggregate(
        total=Count("id"),
        online=Count("id", filter=Q(is_online=True)),
    )
    connectors = scope.filter(Connector.objects.all(), "charge_point__site__operator_id").aggregate(
        charging=Count("id", filter=connector_is_charging() & Q(charge_point__is_online=True)),
        faulted=Count("id", filter=Q(status=ConnectorStatus.FAULTED)),
        available=Count("id", filter=Q(status=ConnectorStatus.AVAILABLE, charge_point__is_online=True)),
        total=Count("id"),
    )
    return {
        "chargers": chargers["total"],
        "online": chargers["online"],
        "offline": chargers["total"] - chargers["online"],
        "connectors": connectors["total"],
        "charging": connectors["charging"],
        "faulted": connectors["faulted"],
        "available": connectors["available"],
    }


def _energy_expression() -> ExpressionWrapper:
    end = Coalesce("meter_stop_wh", "meter_last_wh", "meter_start_wh")
    return ExpressionWrapper(end - F("meter_start_wh"), output_field=BigIntegerField())


@dataclass
class DailySeries:
    days: list[date]
    energy_kwh: list[float]
    revenue: dict[str, list[str]]  # currency -> decimal strings per day
    sessions: list[int]
    today_energy_kwh: float
    today_revenue: dict[str, Decimal]


PAST_DAYS_CACHE_SECONDS = 300


def daily_series(*, scope: Scope, days: int = 30, now: datetime | None = None) -> DailySeries:
    """Energy (by session start day) and revenue (by purchase creation day) per UTC day
    over the last `days` days, today included. Finished days are cached for five minutes
    per scope (they only change when a late session is priced); today is always fresh."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    key = f"portal:daily:{scope.cache_key}:{first.isoformat()}:{days}"
    past = cache.get(key)
    if past is None:
        past = _daily_rows(scope=scope, start=first, end=today)
        cache.set(key, past, PAST_DAYS_CACHE_SECONDS)
    current = _daily_rows(scope=scope, start=today, end=today + timedelta(days=1))
    day_list = [first + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(day_list)}
    energy = [0.0] * days
    sessions = [0] * days
    revenue: dict[str, list[Decimal]] = {}
    for rows in (past, current):
        for day, (wh, count) in rows["energy"].items():
            i = index.get(date.fromisoformat(day))
            if i is not None:
                energy[i] = round(wh / 1000, 3)
                sessions[i] = count
        for (day, currency), total in rows["revenue"].items():
            i = index.get(date.fromisoformat(day))
            if i is not None:
                revenue.setdefault(currency, [Decimal("0")] * days)[i] += total
    return DailySeries(
        days=day_list,
        energy_kwh=energy,
        revenue={cur: [str(v.quantize(CENTS)) for v in values] for cur, values in revenue.items()},
        sessions=sessions,
        today_energy_kwh=energy[-1],
        today_revenue={cur: values[-1].quantize(CENTS) for cur, values in revenue.items()},
    )


def _daily_rows(*, scope: Scope, start: date, end: date) -> dict:
    """Two GROUP BY queries over [start, end) UTC days; plain values so they cache."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end, time.min, tzinfo=UTC)
    energy_rows = (
        session_qs(scope=scope)
        .filter(started_at__gte=since, started_at__lt=until)
        .annotate(day=_utc_day("started_at"))
        .values("day")
        .annotate(wh=Sum(_energy_expression()), n=Count("id"))
        .order_by()
    )
    revenue_rows = (
        purchase_qs(scope=scope, walk=True)  # driven by the created_at index
        .filter(created_at__gte=since, created_at__lt=until)
        .exclude(status=Purchase.Status.VOID)
        .annotate(day=_utc_day("created_at"))
        .values("day", "currency")
        .annotate(total=Sum("total_price"))
        .order_by()
    )
    energy: dict[str, tuple[int, int]] = {}
    for row in energy_rows:
        day = _as_date(row["day"])
        if day is not None:
            energy[day.isoformat()] = (int(row["wh"] or 0), row["n"])
    revenue: dict[tuple[str, str], Decimal] = {}
    for row in revenue_rows:
        day = _as_date(row["day"])
        if day is not None:
            revenue[(day.isoformat(), row["currency"])] = Decimal(row["total"] or 0)
    return {"energy": energy, "revenue": revenue}


def _utc_day(field: str):
    """The UTC day of a datetime column. On SQLite, TruncDate calls back into Python for
    every row (~3 µs each: most of the 30-day aggregate); datetimes are stored there as
    UTC text 'YYYY-MM-DD HH:MM:SS', so the first ten characters are the UTC day."""
    if connection.vendor == "sqlite":
        return Substr(field, 1, 10, output_field=CharField())
    return TruncDate(field, tzinfo=UTC)


def _as_date(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def revenue_currency(*, scope: Scope) -> str:
    """The currency to show revenue in when there is none yet: the operator's first
    tariff's, else the platform's price currency."""
    tariffs = scope.filter(Tariff.objects.all(), "operator_id")
    return tariffs.order_by("id").values_list("currency", flat=True).first() or settings.PRICE_CURRENCY


def active_session_list(*, scope: Scope, limit: int = 50) -> list[ChargeSession]:
    """The newest active sessions, each with the `display_status` of its connector (a
    charging 2.0.1 connector reads Charging, not Occupied)."""
    sessions = list(
        session_qs(scope=scope)
        .filter(status=ChargeSession.Status.ACTIVE)
        .select_related("charge_point", "connector", "user")
        .order_by("-started_at")[:limit]
    )
    for session in sessions:
        session.display_status = connector_display_status(
            status=session.connector.status, charging_state=session.charging_state
        )
    return sessions


def attention_charger_list(*, scope: Scope, limit: int = 10) -> list[ChargePoint]:
    """Chargers that need a look: offline or with a faulted connector, most recently
    changed first. Each carries `faulted` and `offline` for its badges."""
    faulted = Exists(Connector.objects.filter(charge_point_id=OuterRef("pk"), status=ConnectorStatus.FAULTED))
    return list(
        charge_point_qs(scope=scope)
        .annotate(faulted=faulted)
        .filter(Q(faulted=True) | Q(is_online=False))
        .select_related("site")
        .order_by("-updated_at", "identity")[:limit]
    )


# --- map -------------------------------------------------------------------------------


def map_points(*, scope: Scope) -> list[dict]:
    """One row per charger with its site's position and a summary status. Two queries:
    the chargers, then their connectors' statuses grouped per charger."""
    chargers = list(
        charge_point_qs(scope=scope)
        .filter(site__isnull=False)
        .values("id", "identity", "name", "is_online", "site_id", "site__name", "site__latitude", "site__longitude")
    )
    statuses: dict[int, set[str]] = {}
    for cp_id, status, charging_state in (
        scope.filter(Connector.objects.all(), "charge_point__site__operator_id")
        .annotate(charging_state=active_charging_state())
        .values_list("charge_point_id", "status", "charging_state")
        .distinct()
    ):
        statuses.setdefault(cp_id, set()).add(connector_display_status(status=status, charging_state=charging_state))
    points = []
    for row in chargers:
        points.append(
            {
                "identity": row["identity"],
                "name": row["name"] or row["identity"],
                "site": row["site__name"],
                "lat": float(row["site__latitude"]),
                "lng": float(row["site__longitude"]),
                "status": summary_status(is_online=row["is_online"], connector_statuses=statuses.get(row["id"], set())),
            }
        )
    return points


def summary_status(*, is_online: bool, connector_statuses: set[str]) -> str:
    """One word for a charger: offline, faulted, charging, available or unavailable."""
    if not is_online:
        return "offline"
    if ConnectorStatus.FAULTED in connector_statuses:
        return "faulted"
    if connector_statuses & set(CHARGING_STATUSES):
        return "charging"
    if ConnectorStatus.AVAILABLE in connector_statuses:
        return "available"
    return "unavailable" if connector_statuses else "available"


def site_charging_states(*, site_id: int) -> dict[tuple[str, int], str]:
    """(charger identity, connector id) -> the charging state of its active session, for
    the connectors of one site: one query."""
    return {
        (identity, connector_id): state
        for identity, connector_id, state in ChargeSession.objects.filter(
            charge_point__site_id=site_id, status=ChargeSession.Status.ACTIVE
        ).values_list("charge_point__identity", "connector__connector_id", "charging_state")
    }


def connector_display_status_get(*, identity: str, connector_id: int, status: str) -> str:
    """The status to show for one connector that reported `status`: looks up its active
    session only when the status needs it (an OCPP 2.0.1 Occupied)."""
    if status != ConnectorStatus.OCCUPIED:
        return status
    state = (
        ChargeSession.objects.filter(
            charge_point__identity=identity,
            connector__connector_id=connector_id,
            status=ChargeSession.Status.ACTIVE,
        )
        .values_list("charging_state", flat=True)
        .first()
    )
    return connector_display_status(status=status, charging_state=state)


# --- chargers --------------------------------------------------------------------------


def charge_point_list(*, scope: Scope, query: str = "", status: str = "") -> QuerySet[ChargePoint]:
    qs = charge_point_qs(scope=scope).select_related("site")
    if query:
        qs = qs.filter(Q(identity__icontains=query) | Q(name__icontains=query) | Q(site__name__icontains=query))
    if status == "online":
        qs = qs.filter(is_online=True)
    elif status == "offline":
        qs = qs.filter(is_online=False)
    elif status == "faulted":
        qs = qs.filter(connectors__status=ConnectorStatus.FAULTED).distinct()
    elif status == "charging":
        qs = qs.filter(Exists(Connector.objects.filter(charge_point_id=OuterRef("pk")).filter(connector_is_charging())))
    return qs.order_by("identity")


def connector_status_map(*, charge_point_ids: list[int]) -> dict[int, list[Connector]]:
    """Connectors of a page of chargers in one query."""
    result: dict[int, list[Connector]] = {}
    connectors = Connector.objects.filter(charge_point_id__in=charge_point_ids).order_by(
        "charge_point_id", "connector_id"
    )
    for connector in with_display_status(connectors):
        result.setdefault(connector.charge_point_id, []).append(connector)
    return result


def with_display_status(connectors: QuerySet[Connector]) -> list[Connector]:
    """The connectors, each with the `display_status` to show (sessions_app's one rule: an
    OCPP 2.0.1 connector that says Occupied shows what its active session does)."""
    rows = list(connectors.annotate(charging_state=active_charging_state()))
    for connector in rows:
        connector.display_status = connector_display_status(
            status=connector.status, charging_state=connector.charging_state
        )
    return rows


@dataclass
class ChargerDetail:
    connectors: list[Connector]
    frames: list[OcppMessage]
    configuration: list[ConfigurationKey]
    device_variables: list[DeviceVariable]
    device_variable_total: int
    events: list[ChargePointEvent]
    recent_sessions: list[ChargeSession]
    status_history: list[ConnectorStatusChange]


STATUS_HISTORY_ROWS = 50


def charger_detail(
    *, charge_point: ChargePoint, frames: int = 25, variables: int = 300, history: int = STATUS_HISTORY_ROWS
) -> ChargerDetail:
    """What the charger page shows; `history` = 0 leaves out the status history (no query)."""
    device_variables = DeviceVariable.objects.filter(charge_point=charge_point).order_by(
        "component_name",
        "component_instance",
        "evse_id",
        "connector_id",
        "variable_name",
        "attribute_type",
    )
    return ChargerDetail(
        connectors=with_display_status(
            Connector.objects.filter(charge_point=charge_point).select_related("evse").order_by("connector_id")
        ),
        frames=list(OcppMessage.objects.filter(charge_point=charge_point).order_by("-created_at", "-id")[:frames]),
        configuration=list(ConfigurationKey.objects.filter(charge_point=charge_point).order_by("key")),
        device_variables=list(device_variables[:variables]),
        device_variable_total=device_variables.count(),
        events=list(ChargePointEvent.objects.filter(charge_point=charge_point).order_by("-created_at")[:10]),
        recent_sessions=list(
            ChargeSession.objects.filter(charge_point=charge_point)
            .select_related("connector", "user")
            .order_by("-started_at")[:10]
        ),
        status_history=status_history(charge_point=charge_point, limit=history) if history else [],
    )


def status_history(*, charge_point: ChargePoint, limit: int = STATUS_HISTORY_ROWS) -> list[ConnectorStatusChange]:
    """The charger's latest `limit` status changes, newest first (connector None: the
    charger itself, connector 0 in OCPP)."""
    changes = ConnectorStatusChange.objects.filter(charge_point=charge_point).select_related("connector")
    return list(changes.order_by("-at", "-id")[:limit])


def remote_start_cards(*, charge_point: ChargePoint, limit: int = 500) -> list[IdToken]:
    """The cards an operator can start a session with on this charger: the charger's
    operator's accepted, unexpired id tokens, by name."""
    if charge_point.site_id is None:
        return []
    return list(
        IdToken.objects.filter(operator_id=charge_point.site.operator_id, status=IdTokenStatus.ACCEPTED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("user")
        .order_by("name", "uid")[:limit]
    )


# --- sessions --------------------------------------------------------------------------


def session_list(*, scope: Scope, status: str = "", query: str = "") -> QuerySet[ChargeSession]:
    qs = session_qs(scope=scope, walk=True).select_related("charge_point", "connector", "user")
    if status in {ChargeSession.Status.ACTIVE, ChargeSession.Status.COMPLETED}:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(
            Q(charge_point__identity__iexact=query)
            | Q(id_tag__iexact=query)
            | Q(transaction_id=query)
            | Q(user__phone=query)
        )
    # Newest recorded first: the primary key walks an index where started_at would sort
    # every row of the operator.
    return qs.order_by("-id")


CHART_POINTS = 1500
METER_TABLE_ROWS = 50


@dataclass(frozen=True)
class SessionMeterTable:
    rows: list[MeterSample]  # the newest readings, newest first
    total: int


def session_chart(*, session: ChargeSession) -> dict:
    """The session's charging curve (sessions_app.curve, the one owner of the rule) as the
    chart's series: power (W), energy since the start (Wh) and SoC (%) as [epoch ms, value]
    pairs, each downsampled to at most CHART_POINTS points; `derived` counts the power
    values averaged from the energy register because the charger sent no power."""
    points = session_charging_curve(session=session)
    return {
        "power": _downsample([[_ms(p.at), p.power_w] for p in points if p.power_w is not None]),
        "energy": _downsample([[_ms(p.at), p.energy_wh] for p in points if p.energy_wh is not None]),
        "soc": _downsample([[_ms(p.at), p.soc_percent] for p in points if p.soc_percent is not None]),
        "derived": sum(1 for p in points if p.derived),
    }


def session_meter_table(*, session: ChargeSession, limit: int = METER_TABLE_ROWS) -> SessionMeterTable:
    """The session's last `limit` meter readings (every measurand, phase and location as
    the charger sent them), newest first, and how many there are in all."""
    samples = MeterSample.objects.filter(session=session)
    return SessionMeterTable(rows=list(samples.order_by("-sampled_at", "-id")[:limit]), total=samples.count())


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _downsample(points: list[list], limit: int = CHART_POINTS) -> list[list]:
    if len(points) <= limit:
        return points
    step = len(points) / limit
    picked = [points[int(i * step)] for i in range(limit - 1)]
    picked.append(points[-1])
    return picked


@dataclass(frozen=True)
class SessionCost:
    total: Decimal | None  # None: the session cannot be priced (the reason in `error`)
    currency: str
    error: str = ""


def session_cost_so_far(*, session: ChargeSession) -> SessionCost:
    """What the session costs so far, VAT included, from the one pricing function (the
    driver's live events and the invoice show the same figure)."""
    tariff = tariff_for_charge_point(charge_point=session.charge_point, at=session.started_at)
    currency = tariff.currency if tariff is not None else settings.PRICE_CURRENCY
    try:
        total = session_running_figures(session=session).total
    except PricingError as exc:
        return SessionCost(total=None, currency=currency, error=str(exc))
    return SessionCost(total=total, currency=currency)


def session_anomalies(*, session: ChargeSession) -> list[SessionAnomaly]:
    """What went wrong with the session, oldest first (closed by the back office, a late
    stop, meter resets, ...)."""
    return list(SessionAnomaly.objects.filter(session=session).order_by("created_at", "id"))


def session_purchase(*, session: ChargeSession) -> tuple[Purchase | None, list[PurchaseLine], list[Payment]]:
    purchase = Purchase.objects.filter(session=session).select_related("tariff").first()
    if purchase is None:
        return None, [], []
    lines = list(PurchaseLine.objects.filter(purchase=purchase).order_by("position", "id"))
    payments = list(Payment.objects.filter(purchase=purchase).order_by("-created_at"))
    return purchase, lines, payments


# --- money and people ------------------------------------------------------------------


def purchase_list(*, scope: Scope, status: str = "", query: str = "") -> QuerySet[Purchase]:
    qs = purchase_qs(scope=scope, walk=True).select_related("session", "session__charge_point", "user", "tariff")
    if status in Purchase.Status.values:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(Q(user__phone=query) | Q(session__charge_point__identity__iexact=query))
    return qs.order_by("-id")


def payment_list(*, scope: Scope, status: str = "", provider: str = "", query: str = "") -> QuerySet[Payment]:
    qs = payment_qs(scope=scope, walk=True).select_related("user", "purchase")
    if status in Payment.Status.values:
        qs = qs.filter(status=status)
    if provider:
        qs = qs.filter(provider=provider)
    if query:
        qs = qs.filter(Q(user__phone=query) | Q(provider_reference=query))
    return qs.order_by("-id")


def _balance_subquery():
    return Coalesce(
        Subquery(
            WalletEntry.objects.filter(wallet_id=OuterRef("pk"))
            .values("wallet_id")
            .annotate(total=Sum("amount"))
            .values("total")[:1],
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
        Value(Decimal("0")),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def driver_list(*, scope: Scope, query: str = "") -> QuerySet[User]:
    qs = driver_qs(scope=scope).select_related("wallet")
    if query:
        qs = qs.filter(Q(phone__icontains=query) | Q(name__icontains=query) | Q(email__icontains=query))
    return qs.annotate(
        session_count=Subquery(
            scope.filter(ChargeSession.objects.filter(user_id=OuterRef("pk")), "charge_point__site__operator_id")
            .values("user_id")
            .annotate(n=Count("id"))
            .values("n")[:1]
        ),
    ).order_by("-id")


def wallet_list(*, scope: Scope, query: str = "") -> QuerySet[Wallet]:
    qs = Wallet.objects.select_related("user")
    if scope.operator_id is None and not scope.everything:
        return qs.none()
    if not scope.everything:
        # The wallet's own user checked per row (was `user IN (every driver of the
        # operator)`, which built the whole driver list before the first page).
        qs = qs.filter(user__is_staff=False, user__phone__isnull=False).filter(_driver_of_operator(scope, "user_id"))
    if query:
        qs = qs.filter(Q(user__phone__icontains=query) | Q(user__name__icontains=query))
    return qs.annotate(balance=_balance_subquery()).order_by("-id")


def wallet_entries(*, wallet: Wallet, limit: int = 50) -> list[WalletEntry]:
    return list(WalletEntry.objects.filter(wallet=wallet).order_by("-created_at", "-id")[:limit])


# --- journal ---------------------------------------------------------------------------


def journal_page(
    *,
    scope: Scope,
    identity: str = "",
    action: str = "",
    direction: str = "",
    unique_id: str = "",
    text: str = "",
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[OcppMessage], int | None]:
    """A page of frames, newest first, and the id to continue from (keyset pagination: no
    COUNT over a journal of millions of rows). Free text searches payloads and is only
    offered together with a charger, to keep it on that charger's index."""
    qs = scope.filter(OcppMessage.objects.all(), "charge_point__site__operator_id")
    if identity:
        qs = qs.filter(charge_point__identity=identity)
    if action:
        qs = qs.filter(action=action)
    if direction in {"in", "out"}:
        qs = qs.filter(direction=direction)
    if unique_id:
        qs = qs.filter(unique_id=unique_id)
    if text and identity:
        qs = qs.filter(Q(raw__icontains=text) | Q(payload__icontains=text))
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    rows = list(qs.order_by("-id")[: limit + 1])
    next_id = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_id
