"""Property tests: for random meter series the priced energy is the metered energy and the
total is the sum of the lines, rounded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from billing.pricing import meter_energy, price_readings, price_session
from billing.services import purchase_create_for_session
from tariffs.models import Tariff
from tests.billing.factories import add_sample, assign, make_charge_point, make_session, make_tariff

START = datetime(2025, 10, 25, 22, 17, 3, tzinfo=UTC)  # runs over the Amsterdam autumn DST night
CENTS = Decimal("0.01")

# (seconds since the previous reading, Wh added)
steps = st.lists(st.tuples(st.integers(0, 7200), st.integers(0, 25_000)), min_size=0, max_size=60)
money = st.decimals(min_value=0, max_value=2, places=4)


def series(meter_start: int, increments) -> list[tuple[datetime, int]]:
    readings = [(START, meter_start)]
    moment, value = START, meter_start
    for seconds, wh in increments:
        moment, value = moment + timedelta(seconds=seconds), value + wh
        readings.append((moment, value))
    return readings


def hourly(readings):
    first = readings[0][0].replace(minute=0, second=0)
    hours = int((readings[-1][0] - first).total_seconds() // 3600) + 2
    return {first + timedelta(hours=i): (Decimal(i % 7) / 10 + Decimal("0.012345"), "EUR") for i in range(hours)}


def tariff(kind, price, markup, vat, fee, idle_fee) -> Tariff:
    # Unsaved: the pure pricing core needs no database.
    return Tariff(
        name="t",
        kind=kind,
        currency="EUR",
        energy_price_per_kwh=price,
        markup_per_kwh=markup,
        vat_percent=vat,
        session_fee=fee,
        idle_fee_per_minute=idle_fee,
        idle_grace_minutes=5,
    )


@settings(max_examples=300, deadline=None)
@given(
    meter_start=st.integers(0, 10**9),
    increments=steps,
    kind=st.sampled_from(["fixed", "dynamic"]),
    price=money,
    markup=money,
    fee=money,
    idle_fee=money,
    vat=st.decimals(min_value=0, max_value=100, places=2),
)
def test_priced_energy_is_metered_energy_and_total_is_the_sum_of_lines(
    meter_start, increments, kind, price, markup, vat, fee, idle_fee
):
    readings = series(meter_start, increments)
    end = readings[-1][0] + timedelta(minutes=40)
    states = [(START, "Charging"), (readings[-1][0], "EVConnected")]
    priced = price_readings(
        tariff=tariff(kind, price, markup, vat, fee, idle_fee),
        readings=readings,
        states=states,
        started_at=START,
        ended_at=end,
        hourly_prices=hourly(readings),
        time_zone="Europe/Amsterdam",
    )
    metered = readings[-1][1] - meter_start
    assert priced.energy_wh == metered
    assert sum(line.quantity for line in priced.lines if line.kind == "energy") * 1000 == metered
    assert all(line.amount >= 0 for line in priced.lines)
    exact = sum((line.amount for line in priced.lines), Decimal(0))
    assert priced.total == exact.quantize(CENTS, rounding=ROUND_HALF_UP)
    assert priced.subtotal + priced.vat == priced.total
    assert priced.total >= 0
    # Every hour line covers one UTC hour and the hours are distinct.
    hours = [line.period_start for line in priced.lines if line.kind == "energy"]
    assert len(hours) == len(set(hours))
    assert all(h.minute == 0 and h.second == 0 for h in hours)


@settings(max_examples=300, deadline=None)
@given(
    meter_start=st.integers(0, 10**7),
    increments=st.lists(st.tuples(st.integers(0, 3600), st.integers(-20_000, 20_000)), max_size=40),
)
def test_a_meter_that_jumps_around_never_gives_negative_energy(meter_start, increments):
    readings = [(START, meter_start)]
    moment, value = START, meter_start
    for seconds, wh in increments:
        moment, value = moment + timedelta(seconds=seconds), max(0, value + wh)
        readings.append((moment, value))
    energy, anomalies = meter_energy(readings)
    assert all(wh >= 0 for wh in energy.values())
    rises = sum(max(0, b[1] - a[1]) for a, b in zip(readings, readings[1:]))
    resets = sum(a.value_wh for a in anomalies if a.kind == "meter_reset")
    # Never more than the rises plus what was counted after each reset (the register
    # restarted at zero): a glitch is not billed twice.
    assert sum(energy.values()) <= rises + resets
    if all(b[1] >= a[1] for a, b in zip(readings, readings[1:])):
        assert not anomalies and sum(energy.values()) == readings[-1][1] - meter_start


class TestPricingAgainstTheDatabase(TestCase):
    """The same properties end to end: samples in the database, a stored purchase."""

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        meter_start=st.integers(0, 10**8),
        increments=steps.filter(lambda s: len(s) > 0),
        unit=st.sampled_from(["Wh", "kWh"]),
    )
    def test_a_stored_purchase_matches_its_meter(self, meter_start, increments, unit):
        charge_point = make_charge_point(time_zone="Europe/Amsterdam")
        assign(
            make_tariff(energy_price_per_kwh=Decimal("0.3117"), vat_percent=Decimal("21"), session_fee=Decimal("0.35")),
            site=charge_point.site,
            valid_from=START - timedelta(days=1),
        )
        readings = series(meter_start, increments)
        *middle, (stop_at, stop_wh) = readings[1:]
        session = make_session(
            charge_point=charge_point,
            started_at=START,
            stopped_at=max(stop_at, START),
            meter_start_wh=meter_start,
            meter_stop_wh=stop_wh,
        )
        for moment, wh in middle:
            add_sample(session, moment, Decimal(wh) / 1000 if unit == "kWh" else wh, unit=unit)
        purchase = purchase_create_for_session(session_id=session.pk)
        assert purchase.energy_wh == stop_wh - meter_start
        stored = sum((line.amount for line in purchase.lines.all()), Decimal(0))
        # Lines are stored to 6 decimals; the total came from the exact amounts.
        assert abs(stored - purchase.total_price) <= Decimal("0.005") + Decimal("0.000001") * purchase.lines.count()
        assert purchase.total_price == price_session(session=session).total
        assert purchase.subtotal + purchase.vat_amount == purchase.total_price
