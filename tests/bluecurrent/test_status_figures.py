"""The figures of a CH_STATUS frame: per-phase readings of the running session only, and
the smart-charging limit in force now."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from bluecurrent import services, smart, snapshots
from sessions_app.models import MeterSample
from tests.factories import ChargePointFactory, ChargeSessionFactory, ConnectorFactory, IdTokenFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def charger():
    site = SiteFactory()
    cp = ChargePointFactory(site=site, is_online=True, max_power_kw=22)
    IdTokenFactory(operator=site.operator)
    connector = ConnectorFactory(charge_point=cp, status="Charging")
    return cp, connector


def sample(session, measurand: str, phase: str, value: float, *, ago: float = 5) -> None:
    MeterSample.objects.create(
        charge_point=session.charge_point,
        connector=session.connector,
        session=session,
        sampled_at=timezone.now() - timedelta(seconds=ago),
        measurand=measurand,
        phase=phase,
        value=value,
        unit="A" if measurand == "Current.Import" else "V",
    )


def test_a_single_phase_session_shows_a_voltage_only_on_the_phase_that_carries_current(charger):
    cp, connector = charger
    session = ChargeSessionFactory(connector=connector, started_at=timezone.now() - timedelta(minutes=1))
    sample(session, "Current.Import", "L1", 16)
    sample(session, "Current.Import", "L2", 0)
    sample(session, "Current.Import", "L3", 0)
    sample(session, "Voltage", "L1-N", 231)
    data = snapshots.status_frame(charge_point=cp)["data"]
    assert (data["actual_p1"], data["actual_p2"], data["actual_p3"]) == (16, 0, 0)
    assert (data["actual_v1"], data["actual_v2"], data["actual_v3"]) == (231, 0, 0)


def test_measured_phase_voltages_are_kept(charger):
    cp, connector = charger
    session = ChargeSessionFactory(connector=connector, started_at=timezone.now() - timedelta(minutes=1))
    for phase, volts in (("L1-N", 229), ("L2-N", 232), ("L3-N", 235)):
        sample(session, "Voltage", phase, volts)
    for phase in ("L1", "L2", "L3"):
        sample(session, "Current.Import", phase, 10)
    data = snapshots.status_frame(charge_point=cp)["data"]
    assert (data["actual_v1"], data["actual_v2"], data["actual_v3"]) == (229, 232, 235)


def test_readings_without_a_phase_voltage_get_the_nominal_voltage(charger, settings):
    cp, connector = charger
    session = ChargeSessionFactory(connector=connector, started_at=timezone.now() - timedelta(minutes=1))
    for phase in ("L1", "L2", "L3"):
        sample(session, "Current.Import", phase, 10)
    data = snapshots.status_frame(charge_point=cp)["data"]
    nominal = settings.BLUECURRENT_NOMINAL_VOLTAGE
    assert (data["actual_v1"], data["actual_v2"], data["actual_v3"]) == (nominal, nominal, nominal)


def test_samples_of_a_finished_session_are_not_the_chargers_load(charger):
    cp, connector = charger
    connector.status = "Available"
    connector.save()
    done = ChargeSessionFactory(
        connector=connector,
        status="completed",
        started_at=timezone.now() - timedelta(minutes=10),
        stopped_at=timezone.now() - timedelta(minutes=1),
        power_w=11000,
    )
    for phase in ("L1", "L2", "L3"):
        sample(done, "Current.Import", phase, 16, ago=90)
    sample(done, "Voltage", "L1-N", 230, ago=90)
    data = snapshots.status_frame(charge_point=cp)["data"]
    assert (data["actual_p1"], data["actual_p2"], data["actual_p3"]) == (0, 0, 0)
    assert (data["actual_v1"], data["actual_v2"], data["actual_v3"]) == (0, 0, 0)


def override_at(cp, *, built: datetime, start_days: list[str], start: str, stop: str, current: int):
    """An override schedule as POST_SET_OVERRIDE_CURRENT stores it, built at `built`."""
    with time_machine.travel(built, tick=False):
        schedule = smart.override_schedule(
            cp,
            start_days=start_days,
            start_time=start,
            stop_days=start_days,
            stop_time=stop,
            current=current,
            schedule_id=9200,
        )
        return services.profile_save(charge_point=cp, kind="override", schedule=schedule, enabled=True, profile_id=9200)


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2025, 3, 3, tzinfo=AMSTERDAM)  # a Monday, no DST change that week


@pytest.mark.parametrize(
    "moment, expected",
    [
        (MONDAY.replace(hour=18), 10),  # inside Monday 17:00-21:00
        (MONDAY.replace(hour=16, minute=59), 32),  # before it
        (MONDAY.replace(hour=21, minute=1), 32),  # after it
        (MONDAY.replace(day=4, hour=18), 32),  # Tuesday: not one of its days
        (MONDAY.replace(day=10, hour=18), 10),  # the next Monday: the week repeats
    ],
)
def test_smartcharging_max_usage_is_the_override_only_inside_its_window(charger, moment, expected):
    cp, _ = charger
    cp.site.time_zone = "Europe/Amsterdam"
    cp.site.save()
    override_at(cp, built=MONDAY.replace(hour=9), start_days=["MO"], start="17:00", stop="21:00", current=10)
    with time_machine.travel(moment, tick=False):
        data = snapshots.status_frame(charge_point=cp)["data"]
    assert data["max_usage"] == 32
    assert data["smartcharging_max_usage"] == expected
