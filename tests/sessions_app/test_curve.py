"""The charging curve read from meter samples: numbers a reader can check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sessions_app.curve import charging_curve
from sessions_app.models import MeterSample

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _sample(minutes: float, measurand: str, value: str, unit: str, phase: str = "", location: str = "Outlet"):
    return MeterSample(
        sampled_at=T0 + timedelta(minutes=minutes),
        measurand=measurand,
        value=Decimal(value),
        unit=unit,
        phase=phase,
        location=location,
    )


def test_power_energy_and_soc_per_instant_with_kilo_units_scaled():
    samples = [
        _sample(0, "Energy.Active.Import.Register", "10000", "Wh"),
        _sample(0, "Power.Active.Import", "0", "W"),
        _sample(0, "SoC", "40", "Percent", location="EV"),
        _sample(6, "Energy.Active.Import.Register", "10.7", "kWh"),
        _sample(6, "Power.Active.Import", "7.2", "kW"),
        _sample(6, "SoC", "45", "Percent"),
        _sample(6, "Voltage", "230", "V", phase="L1-N"),  # not on the curve
    ]
    points = charging_curve(samples, meter_start_wh=10000)
    assert [(p.power_w, p.energy_wh, p.soc_percent, p.derived) for p in points] == [
        (0, 0, 40, False),
        (7200, 700, 45, False),
    ]


def test_per_phase_power_is_summed_when_there_is_no_total():
    samples = [_sample(0, "Power.Active.Import", "2300", "W", phase=phase) for phase in ("L1", "L2", "L3")]
    assert [p.power_w for p in charging_curve(samples, meter_start_wh=0)] == [6900]


def test_the_neutral_and_line_to_line_readings_are_not_added_to_the_power():
    samples = [_sample(0, "Power.Active.Import", "2300", "W", phase=phase) for phase in ("L1-N", "L2-N", "L3-N")]
    samples += [_sample(0, "Power.Active.Import", "40", "W", phase="N")]
    samples += [_sample(0, "Power.Active.Import", "3980", "W", phase="L1-L2")]
    assert charging_curve(samples, meter_start_wh=0)[0].power_w == 6900


def test_without_power_samples_the_power_is_the_average_since_the_last_energy_reading():
    # 1100 Wh in 10 minutes is 6600 W on average; 0 Wh in the next 5 is 0 W.
    samples = [
        _sample(0, "Energy.Active.Import.Register", "500", "Wh"),
        _sample(10, "Energy.Active.Import.Register", "1600", "Wh"),
        _sample(15, "Energy.Active.Import.Register", "1600", "Wh"),
    ]
    points = charging_curve(samples, meter_start_wh=500)
    assert [(p.power_w, p.energy_wh, p.derived) for p in points] == [
        (None, 0, False),
        (6600, 1100, True),
        (0, 1100, True),
    ]


def test_inlet_readings_are_not_the_outlet_curve():
    samples = [
        _sample(0, "Power.Active.Import", "9999", "W", location="Inlet"),
        _sample(0, "Power.Active.Import", "3700", "W"),
    ]
    assert [p.power_w for p in charging_curve(samples, meter_start_wh=0)] == [3700]
