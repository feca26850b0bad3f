"""The one pricing function: a charge session priced from its meter readings, its charging
states and the tariff in force when it started.

Money is Decimal throughout and rounded once, at the end, to cents (ROUND_HALF_UP). Energy
is integer Wh: the energy of each interval between two readings is spread over its
duration, split at UTC hour boundaries and shared out in whole Wh (largest remainder), so
the hours always add up to exactly the metered energy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from sessions_app.meter import ENERGY_REGISTER
from sessions_app.models import ChargeSession, ChargingState, ChargingStateChange, MeterSample
from sessions_app.timeline import charging_seconds, state_intervals
from tariffs.models import Tariff
from tariffs.selectors import (
    PriceUnavailable,
    electricity_prices_for_hours,
    hour_floor,
    local_time,
    tariff_for_charge_point,
)

CENTS = Decimal("0.01")
HUNDRED = Decimal(100)
WH_PER_KWH = Decimal(1000)
HOUR = timedelta(hours=1)
# A reading below half of the previous one is taken as a register reset (restarted from
# zero, e.g. after a charger reboot); a smaller drop as the meter going backwards.
RESET_BELOW_FRACTION = Decimal("0.5")


class PricingError(Exception):
    """The session cannot be priced (e.g. prices in another currency than the tariff)."""


@dataclass(frozen=True)
class PricedLine:
    kind: str  # billing.models.PurchaseLine.Kind values
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal  # exact, not rounded
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True)
class MeterAnomaly:
    kind: str  # sessions_app.models.SessionAnomaly.Kind values
    at: datetime
    previous_wh: int
    value_wh: int

    def as_detail(self) -> dict:
        return {"at": self.at.isoformat(), "previous_wh": self.previous_wh, "value_wh": self.value_wh}


@dataclass
class PricedSession:
    currency: str
    tariff: Tariff | None
    lines: list[PricedLine]
    subtotal: Decimal  # before VAT, cents
    vat: Decimal  # cents; subtotal + vat == total
    total: Decimal  # cents: the exact sum of the lines, rounded once
    energy_wh: int
    idle_minutes: int  # all idle minutes (grace included)
    idle_billed_minutes: int
    charging_seconds: int = 0
    energy_by_hour: dict[datetime, int] = field(default_factory=dict)
    anomalies: list[MeterAnomaly] = field(default_factory=list)
    priced_until: datetime | None = None
    refused: bool = False  # the CSMS did not authorise the session: nothing to pay


# --- energy --------------------------------------------------------------------------------


def _spread(energy: dict[datetime, int], delta: int, start: datetime, end: datetime) -> None:
    """Add `delta` Wh used evenly over [start, end) to the UTC hours it touches."""
    if delta == 0:
        return
    first = hour_floor(start)
    if end <= start or end <= first + HOUR:
        energy[first] = energy.get(first, 0) + delta
        return
    pieces: list[tuple[datetime, int]] = []
    hour = first
    while hour < end:
        piece_start, piece_end = max(hour, start), min(hour + HOUR, end)
        pieces.append((hour, (piece_end - piece_start) // timedelta(microseconds=1)))
        hour += HOUR
    total = sum(duration for _, duration in pieces)
    shares = [(hour, delta * duration // total, delta * duration % total) for hour, duration in pieces]
    left = delta - sum(share for _, share, _ in shares)
    # Whole Wh left by the integer division go to the largest remainders (earliest first on ties).
    bonus = {hour for hour, _, _ in sorted(shares, key=lambda item: -item[2])[:left]}
    for hour, share, _ in shares:
        share += hour in bonus
        if share:
            energy[hour] = energy.get(hour, 0) + share


def meter_energy(readings: list[tuple[datetime, int]]) -> tuple[dict[datetime, int], list[MeterAnomaly]]:
    """Energy per UTC hour from time-ordered register readings (Wh), and the anomalies.

    Never negative: a reset counts the new reading as the energy since the reset; a meter
    going backwards counts nothing until it passes its highest reading again (so a glitch
    is not billed twice). One anomaly is recorded per backwards run.
    """
    energy: dict[datetime, int] = {}
    anomalies: list[MeterAnomaly] = []
    if not readings:
        return energy, anomalies
    previous_at, high = readings[0]
    backwards = False
    for at, value in readings[1:]:
        if value >= high:
            delta, high, backwards = value - high, value, False
        elif value < high * RESET_BELOW_FRACTION:
            anomalies.append(MeterAnomaly("meter_reset", at, high, value))
            delta, high, backwards = value, value, False
        else:
            if not backwards:
                anomalies.append(MeterAnomaly("meter_backwards", at, high, value))
            delta, backwards = 0, True
        _spread(energy, delta, previous_at, at)
        previous_at = at
    return energy, anomalies


# --- idle ----------------------------------------------------------------------------------


def idle_seconds(
    states: Iterable[tuple[datetime, str]],
    *,
    started_at: datetime,
    ended_at: datetime,
) -> int:
    """Seconds plugged in but not charging: while SuspendedEV (the car declines), and
    while EVConnected once charging has happened (the car is full or the driver is away).
    SuspendedEVSE is the charger's doing and is never billed; neither is waiting before
    the first charge.

    `states` come in arrival order; changes in the same instant keep it (see
    sessions_app.timeline: by the state's name, Charging would sort before an EVConnected
    the charger reported first in the same second)."""
    total = timedelta()
    charged = False
    for at, until, state in state_intervals(states, started_at=started_at, ended_at=ended_at):
        if state == ChargingState.CHARGING:
            charged = True
        elif state == ChargingState.SUSPENDED_EV or (state == ChargingState.EV_CONNECTED and charged):
            total += until - at
    return int(total.total_seconds())


# --- the pricing function ------------------------------------------------------------------


def price_readings(
    *,
    tariff: Tariff | None,
    readings: list[tuple[datetime, int]],
    states: Iterable[tuple[datetime, str]] = (),
    started_at: datetime,
    ended_at: datetime,
    hourly_prices: Mapping[datetime, tuple[Decimal, str]] | None = None,
    time_zone: str = "UTC",
    currency: str | None = None,
    refused: bool = False,
    min_billable_wh: int | None = None,
) -> PricedSession:
    """Price readings (Wh, time-ordered, starting with the meter start) under a tariff.
    No database access: `price_session` gathers the inputs. `hourly_prices` is needed for
    dynamic tariffs ({UTC hour: (price per kWh, currency)}).

    A session the CSMS refused has no lines and costs nothing. One that delivered less
    than `min_billable_wh` (default settings.BILLING_MIN_BILLABLE_WH) pays no session fee."""
    currency = tariff.currency if tariff is not None else (currency or settings.PRICE_CURRENCY)
    if min_billable_wh is None:
        min_billable_wh = settings.BILLING_MIN_BILLABLE_WH
    states = list(states)
    charging_s = charging_seconds(states, started_at=started_at, ended_at=ended_at)
    energy, anomalies = meter_energy(readings)
    if refused:
        return PricedSession(
            currency=currency,
            tariff=tariff,
            lines=[],
            subtotal=Decimal("0.00"),
            vat=Decimal("0.00"),
            total=Decimal("0.00"),
            energy_wh=sum(energy.values()),
            idle_minutes=0,
            idle_billed_minutes=0,
            charging_seconds=charging_s,
            energy_by_hour=energy,
            anomalies=anomalies,
            priced_until=ended_at,
            refused=True,
        )
    lines: list[PricedLine] = []
    for hour in sorted(energy):
        wh = energy[hour]
        if wh == 0:
            continue
        unit_price = _energy_unit_price(tariff, hour, hourly_prices)
        kwh = Decimal(wh) / WH_PER_KWH
        lines.append(
            PricedLine(
                kind="energy",
                description=f"Energy {_local_hour(hour, time_zone)}",
                quantity=kwh,
                unit="kWh",
                unit_price=unit_price,
                amount=kwh * unit_price,
                period_start=hour,
                period_end=hour + HOUR,
            )
        )

    idle_total_minutes = idle_seconds(states, started_at=started_at, ended_at=ended_at) // 60
    grace = tariff.idle_grace_minutes if tariff is not None else 0
    idle_billed = max(0, idle_total_minutes - grace)
    if tariff is not None and idle_billed and tariff.idle_fee_per_minute:
        lines.append(
            PricedLine(
                kind="idle",
                description=f"Idle time after {grace} min grace",
                quantity=Decimal(idle_billed),
                unit="min",
                unit_price=tariff.idle_fee_per_minute,
                amount=Decimal(idle_billed) * tariff.idle_fee_per_minute,
            )
        )
    if tariff is not None and tariff.session_fee and sum(energy.values()) >= min_billable_wh:
        lines.append(
            PricedLine(
                kind="session_fee",
                description="Session fee",
                quantity=Decimal(1),
                unit="",
                unit_price=tariff.session_fee,
                amount=tariff.session_fee,
            )
        )

    net = sum((line.amount for line in lines), Decimal(0))
    vat_percent = tariff.vat_percent if tariff is not None else Decimal(0)
    if vat_percent and net:
        lines.append(
            PricedLine(
                kind="vat",
                description=f"VAT {vat_percent.normalize():f}%",
                quantity=net,
                unit=currency,
                unit_price=vat_percent / HUNDRED,
                amount=net * vat_percent / HUNDRED,
            )
        )
    # The single rounding: the exact sum of all lines, to cents.
    total = sum((line.amount for line in lines), Decimal(0)).quantize(CENTS, rounding=ROUND_HALF_UP)
    subtotal = net.quantize(CENTS, rounding=ROUND_HALF_UP)
    return PricedSession(
        currency=currency,
        tariff=tariff,
        lines=lines,
        subtotal=subtotal,
        vat=total - subtotal,
        total=total,
        energy_wh=sum(energy.values()),
        idle_minutes=idle_total_minutes,
        idle_billed_minutes=idle_billed if tariff is not None and tariff.idle_fee_per_minute else 0,
        charging_seconds=charging_s,
        energy_by_hour=energy,
        anomalies=anomalies,
        priced_until=ended_at,
    )


def _local_hour(hour: datetime, time_zone: str) -> str:
    """An hour as the site sees it. Around a DST change the zone names keep the repeated
    (or skipped) hour unambiguous: "02:00 CEST–02:00 CET"."""
    start, end = local_time(hour, time_zone), local_time(hour + HOUR, time_zone)
    if start.tzname() != end.tzname():
        return f"{start:%Y-%m-%d %H:%M %Z}–{end:%H:%M %Z}"
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} {start:%Z}"


def _energy_unit_price(
    tariff: Tariff | None,
    hour: datetime,
    hourly_prices: Mapping[datetime, tuple[Decimal, str]] | None,
) -> Decimal:
    if tariff is None:
        return Decimal(0)
    if tariff.kind == Tariff.Kind.FIXED:
        return tariff.energy_price_per_kwh
    if hourly_prices is None or hour not in hourly_prices:
        raise PriceUnavailable(f"No {tariff.market!r} price for {hour:%Y-%m-%dT%H:00Z}.")
    price, price_currency = hourly_prices[hour]
    if price_currency != tariff.currency:
        raise PricingError(
            f"Tariff {tariff.name!r} is in {tariff.currency} but market {tariff.market!r} "
            f"prices for {hour:%Y-%m-%dT%H:00Z} are in {price_currency}."
        )
    return price + tariff.markup_per_kwh


def readings_from_samples(
    samples: Iterable[tuple[datetime, Decimal, str, str]],
    *,
    started_at: datetime,
    meter_start_wh: int,
    ended_at: datetime,
    stop: tuple[datetime, int] | None = None,
    meter_last_wh: int | None = None,
) -> list[tuple[datetime, int]]:
    """The energy register as (time, Wh), time-ordered and one per instant, from energy
    samples (time, value, unit, phase) in any order, replays included: the meter start,
    the samples in [start, end], and the stop reading. Per instant the total (no phase)
    wins; without it the phases are added up (one reading per conductor). Pure: the
    property tests feed it shuffled, duplicated samples."""
    totals: dict[datetime, Decimal] = {}
    phases: dict[datetime, dict[str, Decimal]] = {}
    for sampled_at, value, unit, phase in samples:
        if not started_at <= sampled_at <= ended_at:
            continue  # before the start, or after the stop: journaled, never priced
        wh = value * WH_PER_KWH if unit.lower() == "kwh" else value
        if phase:
            # "L1" and "L1-N" are the same conductor; keep one reading per conductor.
            phases.setdefault(sampled_at, {})[phase[:2]] = wh
        else:
            totals[sampled_at] = wh
    for sampled_at, by_phase in phases.items():
        totals.setdefault(sampled_at, sum(by_phase.values(), Decimal(0)))

    readings = [(started_at, meter_start_wh)]
    readings += [(at, int(wh.quantize(Decimal(1), rounding=ROUND_HALF_UP))) for at, wh in sorted(totals.items())]
    if stop is not None and stop[0] <= ended_at:
        readings.append(stop)
    elif len(readings) == 1 and meter_last_wh is not None:
        # No samples stored yet: spread the latest register reading up to now.
        readings.append((ended_at, meter_last_wh))
    return readings


def session_readings(*, session: ChargeSession, ended_at: datetime) -> list[tuple[datetime, int]]:
    """The session's energy register as (time, Wh), time-ordered (see readings_from_samples)."""
    rows = (
        MeterSample.objects.filter(
            session=session,
            measurand=ENERGY_REGISTER,
            sampled_at__gte=session.started_at,
            sampled_at__lte=ended_at,
        )
        .order_by("sampled_at", "id")
        .values_list("sampled_at", "value", "unit", "phase")
    )
    stop = None
    if session.stopped_at is not None and session.meter_stop_wh is not None:
        stop = (session.stopped_at, session.meter_stop_wh)
    return readings_from_samples(
        rows.iterator(chunk_size=5000),
        started_at=session.started_at,
        meter_start_wh=session.meter_start_wh,
        ended_at=ended_at,
        stop=stop,
        meter_last_wh=session.meter_last_wh,
    )


def session_time_zone(session: ChargeSession) -> str:
    site = session.charge_point.site
    return site.time_zone if site is not None else "UTC"


def _priced_until(session: ChargeSession, until: datetime | None) -> datetime:
    ended_at = session.stopped_at or until or timezone.now()
    if until is not None and until < ended_at:
        ended_at = until
    return max(ended_at, session.started_at).astimezone(UTC)


def session_states(*, session: ChargeSession, ended_at: datetime) -> list[tuple[datetime, str]]:
    """The session's state changes before `ended_at`, in arrival order."""
    return list(
        ChargingStateChange.objects.filter(session=session, at__lt=ended_at)
        .order_by("at", "id")  # arrival order within the same instant
        .values_list("at", "charging_state")
    )


def session_idle_minutes(*, session: ChargeSession, until: datetime | None = None) -> int:
    """Idle minutes so far (grace included): the live CHARGING event's waitingTime. The
    same definition the purchase is priced with, without pricing the energy."""
    ended_at = _priced_until(session, until)
    return (
        idle_seconds(
            session_states(session=session, ended_at=ended_at), started_at=session.started_at, ended_at=ended_at
        )
        // 60
    )


def price_session(*, session: ChargeSession, until: datetime | None = None) -> PricedSession:
    """Price a session: finished ones up to their stop, active ones up to `until` (default
    now). The tariff is the one in force at the charge point when the session started."""
    ended_at = _priced_until(session, until)
    tariff = tariff_for_charge_point(charge_point=session.charge_point, at=session.started_at)
    readings = session_readings(session=session, ended_at=ended_at)
    hourly_prices = None
    if tariff is not None and tariff.kind == Tariff.Kind.DYNAMIC:
        last = readings[-1][0] if len(readings) > 1 else ended_at
        hourly_prices = electricity_prices_for_hours(
            market=tariff.market,
            start=session.started_at,
            end=max(last, session.started_at) + timedelta(microseconds=1),
        )
    states = session_states(session=session, ended_at=ended_at)
    return price_readings(
        tariff=tariff,
        readings=readings,
        states=states,
        started_at=session.started_at,
        ended_at=ended_at,
        hourly_prices=hourly_prices,
        time_zone=session_time_zone(session),
        refused=session.refused,
    )
