from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.pricing import PricingError, price_session
from tariffs.models import ElectricityPrice
from tests.billing.factories import (
    add_sample,
    add_state,
    assign,
    make_charge_point,
    make_session,
    make_tariff,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def energy_lines(priced) -> list[tuple[datetime, Decimal]]:
    return [(line.period_start, line.quantity) for line in priced.lines if line.kind == "energy"]


@pytest.fixture
def charge_point():
    charge_point = make_charge_point()
    assign(make_tariff(energy_price_per_kwh=Decimal("0.30")), site=charge_point.site, valid_from=T0 - timedelta(days=1))
    return charge_point


def test_energy_without_samples_is_interpolated_from_meter_start_to_stop(charge_point):
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(120), meter_start_wh=10_000, meter_stop_wh=14_000
    )
    priced = price_session(session=session)
    assert energy_lines(priced) == [
        (datetime(2025, 1, 15, 10, tzinfo=UTC), Decimal("1")),
        (datetime(2025, 1, 15, 11, tzinfo=UTC), Decimal("2")),
        (datetime(2025, 1, 15, 12, tzinfo=UTC), Decimal("1")),
    ]
    assert priced.energy_wh == 4000
    assert priced.total == Decimal("1.20")


def test_energy_between_samples_is_split_at_hour_boundaries_by_time(charge_point):
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(120), meter_start_wh=0, meter_stop_wh=4000
    )
    add_sample(session, at(45), 3000)  # 3 kWh in 45 minutes across 11:00, then 1 kWh in 75 minutes
    priced = price_session(session=session)
    assert energy_lines(priced) == [
        (datetime(2025, 1, 15, 10, tzinfo=UTC), Decimal("2")),
        (datetime(2025, 1, 15, 11, tzinfo=UTC), Decimal("1.6")),
        (datetime(2025, 1, 15, 12, tzinfo=UTC), Decimal("0.4")),
    ]


def test_each_hour_is_priced_at_its_own_dynamic_price():
    charge_point = make_charge_point()
    tariff = make_tariff(kind="dynamic", markup_per_kwh=Decimal("0.05"), vat_percent=Decimal("21"))
    assign(tariff, charge_point=charge_point, valid_from=T0 - timedelta(days=1))
    for hour, price in ((10, "0.10"), (11, "0.20"), (12, "0.40")):
        ElectricityPrice.objects.create(
            starts_at=datetime(2025, 1, 15, hour, tzinfo=UTC), price_per_kwh=Decimal(price), source="manual"
        )
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(120), meter_start_wh=0, meter_stop_wh=4000
    )
    priced = price_session(session=session)
    assert [(line.unit_price, line.amount) for line in priced.lines if line.kind == "energy"] == [
        (Decimal("0.15"), Decimal("0.15")),
        (Decimal("0.25"), Decimal("0.50")),
        (Decimal("0.45"), Decimal("0.45")),
    ]
    assert priced.subtotal == Decimal("1.10")
    assert priced.vat == Decimal("0.23")  # 0.231
    assert priced.total == Decimal("1.33")


def test_a_dynamic_tariff_refuses_prices_in_another_currency():
    charge_point = make_charge_point()
    assign(make_tariff(kind="dynamic", currency="USD"), charge_point=charge_point, valid_from=T0 - timedelta(days=1))
    ElectricityPrice.objects.create(
        starts_at=datetime(2025, 1, 15, 10, tzinfo=UTC), price_per_kwh=Decimal("0.1"), currency="EUR"
    )
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(20), meter_stop_wh=1000)
    with pytest.raises(PricingError, match="USD"):
        price_session(session=session)


def test_a_dynamic_tariff_generates_missing_hours_like_the_current_price():
    charge_point = make_charge_point()
    assign(make_tariff(kind="dynamic"), charge_point=charge_point, valid_from=T0 - timedelta(days=1))
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(20), meter_stop_wh=1000)
    priced = price_session(session=session)
    assert priced.energy_wh == 1000 and priced.total > 0
    assert ElectricityPrice.objects.filter(starts_at__month=1).count() == 31 * 24


def test_only_the_total_energy_register_is_billed(charge_point):
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(60), meter_start_wh=1000, meter_stop_wh=3000
    )
    add_sample(session, at(30), "1.8", unit="kWh")  # the total, in kWh
    for phase in ("L1", "L2", "L3"):
        add_sample(session, at(30), 600, phase=phase)  # ignored: the total is present
    add_sample(session, at(30), 11000, measurand="Power.Active.Import", unit="W")
    add_sample(session, at(40), 80, measurand="SoC", unit="Percent")
    priced = price_session(session=session)
    # 800 Wh over 10:30-11:00, then 1200 Wh over 11:00-11:30
    assert energy_lines(priced) == [
        (datetime(2025, 1, 15, 10, tzinfo=UTC), Decimal("0.8")),
        (datetime(2025, 1, 15, 11, tzinfo=UTC), Decimal("1.2")),
    ]


def test_phase_registers_are_added_up_when_there_is_no_total(charge_point):
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(60), meter_start_wh=0, meter_stop_wh=3000
    )
    for phase in ("L1-N", "L2-N", "L3-N"):
        add_sample(session, at(30), 900, phase=phase)
    priced = price_session(session=session)
    assert energy_lines(priced)[0] == (datetime(2025, 1, 15, 10, tzinfo=UTC), Decimal("2.7"))
    assert priced.energy_wh == 3000


def test_a_meter_going_backwards_is_never_billed_negative(charge_point):
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(40), meter_start_wh=1000, meter_stop_wh=2500
    )
    add_sample(session, at(10), 2000)
    add_sample(session, at(20), 1900)  # glitch
    add_sample(session, at(30), 1950)
    priced = price_session(session=session)
    assert priced.energy_wh == 1500
    assert all(line.amount >= 0 for line in priced.lines)
    assert [(a.kind, a.previous_wh, a.value_wh) for a in priced.anomalies] == [("meter_backwards", 2000, 1900)]


def test_a_meter_reset_counts_the_energy_after_the_reset(charge_point):
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(40), meter_start_wh=50_000, meter_stop_wh=1200
    )
    add_sample(session, at(10), 55_000)
    add_sample(session, at(20), 200)  # the charger rebooted and its register restarted
    priced = price_session(session=session)
    assert priced.energy_wh == 5000 + 200 + 1000
    assert [(a.kind, a.previous_wh, a.value_wh) for a in priced.anomalies] == [("meter_reset", 55_000, 200)]


def test_a_session_without_a_meter_stop_is_billed_to_its_last_sample(charge_point):
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(60), meter_start_wh=0)
    add_sample(session, at(20), 700)
    add_sample(session, at(50), 1500)
    assert price_session(session=session).energy_wh == 1500


def test_idle_minutes_after_charging_are_billed_after_the_grace_period():
    charge_point = make_charge_point()
    tariff = make_tariff(
        idle_fee_per_minute=Decimal("0.10"),
        idle_grace_minutes=15,
        session_fee=Decimal("0.50"),
        vat_percent=Decimal("20"),
    )
    assign(tariff, site=charge_point.site, valid_from=T0 - timedelta(days=1))
    session = make_session(
        charge_point=charge_point, started_at=at(0), stopped_at=at(180), meter_start_wh=0, meter_stop_wh=10_000
    )
    add_state(session, at(0), "EVConnected")  # waiting for the car to start: not idle
    add_state(session, at(5), "Charging")
    add_state(session, at(30), "SuspendedEVSE")  # the charger paused it: not the driver's doing
    add_state(session, at(40), "Charging")
    add_state(session, at(60), "SuspendedEV")  # the car declines: idle
    add_state(session, at(70), "Charging")
    add_state(session, at(100), "EVConnected")  # full, still plugged in: idle until the stop
    priced = price_session(session=session)
    assert priced.idle_minutes == 10 + 80
    idle = next(line for line in priced.lines if line.kind == "idle")
    assert (idle.quantity, idle.amount) == (Decimal(75), Decimal("7.50"))
    kinds = [line.kind for line in priced.lines]
    assert kinds[-3:] == ["idle", "session_fee", "vat"]
    # 10 kWh * 0.30 + 7.50 + 0.50 = 11.00 net, 2.20 VAT
    assert (priced.subtotal, priced.vat, priced.total) == (Decimal("11.00"), Decimal("2.20"), Decimal("13.20"))
    assert sum(line.amount for line in priced.lines) == priced.total


def test_no_idle_fee_within_the_grace_period():
    charge_point = make_charge_point()
    assign(
        make_tariff(idle_fee_per_minute=Decimal("0.10"), idle_grace_minutes=30),
        site=charge_point.site,
        valid_from=T0 - timedelta(days=1),
    )
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(60), meter_stop_wh=1000)
    add_state(session, at(0), "Charging")
    add_state(session, at(35), "EVConnected")
    priced = price_session(session=session)
    assert priced.idle_minutes == 25
    assert "idle" not in [line.kind for line in priced.lines]


def test_the_total_is_rounded_once_half_up():
    charge_point = make_charge_point()
    assign(
        make_tariff(energy_price_per_kwh=Decimal("0.3333"), vat_percent=Decimal("21")),
        site=charge_point.site,
        valid_from=T0 - timedelta(days=1),
    )
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(20), meter_stop_wh=15)
    priced = price_session(session=session)
    # 0.015 kWh * 0.3333 = 0.0049995 net; * 1.21 = 0.006049395 -> 0.01 (rounding each
    # part first would give 0.00 + 0.00).
    assert priced.total == Decimal("0.01")
    assert priced.subtotal == Decimal("0.00") and priced.vat == Decimal("0.01")


def test_a_session_without_a_tariff_is_free_but_metered(charge_point):
    bare = make_charge_point()
    session = make_session(charge_point=bare, started_at=at(0), stopped_at=at(30), meter_stop_wh=2000)
    priced = price_session(session=session)
    assert (priced.tariff, priced.total, priced.energy_wh, priced.currency) == (None, Decimal("0.00"), 2000, "EUR")


def test_an_active_session_is_priced_up_to_now(charge_point):
    session = make_session(charge_point=charge_point, started_at=at(0))
    add_sample(session, at(10), 500)
    add_sample(session, at(20), 1000)
    priced = price_session(session=session, until=at(25))
    assert priced.energy_wh == 1000 and priced.priced_until == at(25)
    assert price_session(session=session, until=at(15)).energy_wh == 500


class TestDaylightSaving:
    """A site in Amsterdam: prices stay per UTC hour, lines show local hours."""

    def _session(self, start: datetime, hours: int):
        charge_point = make_charge_point(time_zone="Europe/Amsterdam")
        tariff = make_tariff(kind="dynamic")
        assign(tariff, site=charge_point.site, valid_from=start - timedelta(days=1))
        for i in range(hours):
            ElectricityPrice.objects.create(
                starts_at=start + timedelta(hours=i), price_per_kwh=Decimal(i + 1) / 10, source="manual"
            )
        return make_session(
            charge_point=charge_point,
            started_at=start,
            stopped_at=start + timedelta(hours=hours),
            meter_stop_wh=1000 * hours,
        )

    def test_the_repeated_autumn_hour_is_priced_twice_at_its_own_prices(self):
        # 2025-10-26: 02:00-03:00 local happens twice (CEST, then CET).
        session = self._session(datetime(2025, 10, 25, 23, tzinfo=UTC), 4)
        priced = price_session(session=session)
        assert [line.description for line in priced.lines] == [
            "Energy 2025-10-26 01:00–02:00 CEST",
            "Energy 2025-10-26 02:00 CEST–02:00 CET",
            "Energy 2025-10-26 02:00–03:00 CET",
            "Energy 2025-10-26 03:00–04:00 CET",
        ]
        assert [line.amount for line in priced.lines] == [
            Decimal("0.1"),
            Decimal("0.2"),
            Decimal("0.3"),
            Decimal("0.4"),
        ]

    def test_the_skipped_spring_hour_is_not_invented(self):
        # 2025-03-30: local 02:00-03:00 does not exist; three UTC hours are three lines.
        session = self._session(datetime(2025, 3, 30, 0, tzinfo=UTC), 3)
        priced = price_session(session=session)
        assert [line.description for line in priced.lines] == [
            "Energy 2025-03-30 01:00 CET–03:00 CEST",
            "Energy 2025-03-30 03:00–04:00 CEST",
            "Energy 2025-03-30 04:00–05:00 CEST",
        ]
        assert priced.energy_wh == 3000
