"""A session's charging curve: power, energy and state of charge over time, from its
meter samples.

One point per sampling instant. Power is the charger's total active power (its per-phase
readings summed when it sends no total); where an instant has an energy reading but no
power, the power is the average since the previous energy reading (marked `derived`).
Energy is the session's own (the register minus its start). Units: W, Wh, percent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sessions_app.meter import ENERGY_REGISTER, POWER, SOC
from sessions_app.models import ChargeSession, MeterSample

_KILO = {"kW": 1000, "kWh": 1000}
_WHOLE_OUTLET = ("", "Outlet")
# The per-phase readings that add up to the total power: the lines (to neutral); not the
# neutral conductor itself, nor line-to-line.
_LINE_PHASES = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})


@dataclass
class CurvePoint:
    at: datetime
    power_w: int | None = None
    energy_wh: int | None = None
    soc_percent: int | None = None
    derived: bool = False


def _plain(sample: MeterSample) -> Decimal:
    return sample.value * _KILO.get(sample.unit, 1)


def _point_readings(samples: list[MeterSample]) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(power W, energy register Wh, SoC) of one instant's samples."""
    outlet = [s for s in samples if s.location in _WHOLE_OUTLET]
    totals = {s.measurand: _plain(s) for s in outlet if not s.phase}
    power = totals.get(POWER)
    phases = [_plain(s) for s in outlet if s.measurand == POWER and s.phase in _LINE_PHASES]
    if power is None and phases:
        power = sum(phases, Decimal(0))
    # The state of charge is the car's (location EV), wherever the charger says it is measured.
    soc = next((s.value for s in samples if s.measurand == SOC), None)
    return power, totals.get(ENERGY_REGISTER), soc


def _average_power(previous: tuple[datetime, Decimal] | None, at: datetime, register: Decimal) -> int | None:
    if previous is None or at <= previous[0] or register < previous[1]:
        return None
    seconds = Decimal(str((at - previous[0]).total_seconds()))
    return int(((register - previous[1]) * 3600 / seconds).to_integral_value())


def charging_curve(samples: Iterable[MeterSample], *, meter_start_wh: int) -> list[CurvePoint]:
    """The curve of samples in time order (pure: no database)."""
    by_instant: dict[datetime, list[MeterSample]] = {}
    for sample in samples:
        by_instant.setdefault(sample.sampled_at, []).append(sample)
    points, previous_energy = [], None
    for at in sorted(by_instant):
        power, register, soc = _point_readings(by_instant[at])
        if power is None and register is None and soc is None:
            continue
        point = CurvePoint(at=at, soc_percent=int(soc) if soc is not None else None)
        if register is not None:
            point.energy_wh = max(0, int(register) - meter_start_wh)
        if power is not None:
            point.power_w = int(power)
        elif register is not None:
            point.power_w = _average_power(previous_energy, at, register)
            point.derived = point.power_w is not None
        if register is not None:
            previous_energy = (at, register)
        points.append(point)
    return points


def session_charging_curve(*, session: ChargeSession) -> list[CurvePoint]:
    samples = MeterSample.objects.filter(session=session, measurand__in=(POWER, ENERGY_REGISTER, SOC)).order_by(
        "sampled_at", "id"
    )
    return charging_curve(samples.iterator(chunk_size=2000), meter_start_wh=session.meter_start_wh)
