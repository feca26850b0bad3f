"""What Home Assistant shows of a simulated OCPP 1.6 charger, read by the real client:
the running session's currents and voltages, nothing once it stopped, and the override
current only inside its window."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bluecurrent_api.types import OverrideCurrentPayload

from chargepoints.models import ChargePoint
from sessions_app.models import ChargeSession, MeterSample
from tests.support.chargers import PASSWORD, eventually, simulated, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ocpp_url(haserver: str) -> str:
    return haserver.replace("/haserver", "/ocpp/")


async def status_when(live_client, evse: str, condition, timeout: float = 10.0) -> dict:
    """Ask for the status until an answer meets `condition` (a push computed before the
    change may still be on its way); fails when none does within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        await live_client.client.get_status(evse)
        data = (await live_client.next(lambda m: m["object"] == "CH_STATUS" and m["evse_id"] == evse))["data"]
        if condition(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"no status met the condition in {timeout} s; the last: {data}")
        await asyncio.sleep(0.2)


def phase_currents_stored(evse: str) -> bool:
    session = ChargeSession.objects.filter(charge_point__identity=evse, status="active").first()
    return session is not None and MeterSample.objects.filter(session=session, measurand="Current.Import").exists()


async def test_a_charging_charger_reports_its_currents_and_a_voltage_on_every_phase(haserver, home, live_client):
    """The simulated charger measures currents on L1-L3 and the voltage on L1 only: every
    phase that carries current shows that voltage (it showed 0 V on L2 and L3)."""
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1, meter_interval=0.2) as charger:
        assert await eventually(lambda: ChargePoint.objects.get(identity=evse).is_online)
        await charger.start_transaction(1, home.card.uid)
        assert await eventually(lambda: phase_currents_stored(evse))
        data = await status_when(live_client, evse, lambda d: d["activity"] == "charging" and d["actual_p1"] > 0)
        currents = [data["actual_p1"], data["actual_p2"], data["actual_p3"]]
        assert all(current > 10 for current in currents), currents  # 11 kW on three phases: ~15.9 A each
        assert 225 <= data["actual_v1"] <= 235
        assert data["actual_v2"] == data["actual_v1"] and data["actual_v3"] == data["actual_v1"]
        assert data["avg_voltage"] == data["actual_v1"]


async def test_an_idle_charger_reports_no_current(haserver, home, live_client):
    """The last readings of a finished session are not the charger's load: once the session
    stopped the client sees 0 A and 0 kW (it saw the session's last currents for 15 minutes)."""
    evse = home.charge_point.identity
    async with simulated(ocpp_url(haserver), evse, PASSWORD, connectors=1, meter_interval=0.2) as charger:
        assert await eventually(lambda: ChargePoint.objects.get(identity=evse).is_online)
        await charger.start_transaction(1, home.card.uid)
        assert await eventually(lambda: phase_currents_stored(evse))
        await status_when(live_client, evse, lambda d: d["actual_p1"] > 10)
        await charger.stop_transaction(1)
        assert await eventually(lambda: not ChargeSession.objects.filter(charge_point__identity=evse, status="active"))
        data = await status_when(live_client, evse, lambda d: d["activity"] == "available")
        assert [data["actual_p1"], data["actual_p2"], data["actual_p3"]] == [0, 0, 0]
        assert data["total_kw"] == 0 and data["avg_current"] == 0
        await live_client.client.get_grid_status(evse)
        grid = await live_client.next(lambda m: m["object"] == "GRID_STATUS")
        assert grid["data"]["grid_max_current"] == 0


def day_code(offset_days: int) -> str:
    local = datetime.now(ZoneInfo("Europe/Amsterdam")) + timedelta(days=offset_days)
    return ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][local.weekday()]


async def test_smartcharging_max_usage_follows_the_override_window(haserver, home, live_client):
    """An override limits the charger only inside its window (it was reported at any time)."""
    evse = home.charge_point.identity
    later = day_code(2)  # a window that does not include now
    await live_client.client.set_user_override_current(
        OverrideCurrentPayload(
            chargepoints=[evse],
            overridestarttime="00:00",
            overridestartdays=[later],
            overridestoptime="00:01",
            overridestopdays=[later],
            overridevalue=8,
        )
    )
    created = await live_client.next(lambda m: m["object"] == "POST_SET_OVERRIDE_CURRENT")
    data = await status_when(live_client, evse, lambda d: True)
    assert data["max_usage"] == 32 and data["smartcharging_max_usage"] == 32

    await live_client.client.edit_user_override_current(
        str(created["data"]["schedule_id"]),
        OverrideCurrentPayload(
            chargepoints=[evse],
            overridestarttime="00:00",
            overridestartdays=[day_code(-1)],  # from yesterday to tomorrow: now is inside
            overridestoptime="23:59",
            overridestopdays=[day_code(1)],
            overridevalue=8,
        ),
    )
    await live_client.next(lambda m: m["object"] == "POST_EDIT_OVERRIDE_CURRENT")
    data = await status_when(live_client, evse, lambda d: True)
    assert data["smartcharging_max_usage"] == 8


async def test_a_charging_2_0_1_station_shows_a_charging_vehicle(haserver, home, live_client):
    """A 2.0.1 connector says only Occupied while a car charges; the session's chargingState
    makes it state C ("ready" in the client), not B (vehicle detected)."""
    evse = home.charge_point.identity
    async with simulated201(ocpp_url(haserver), evse, PASSWORD, meter_interval=1) as station:
        assert await eventually(lambda: ChargePoint.objects.get(identity=evse).is_online)
        await station.start_transaction(1, home.card.uid, meter_loop=False)
        assert await eventually(
            lambda: ChargeSession.objects.filter(
                charge_point__identity=evse, status="active", charging_state="Charging"
            ).exists()
        )
        data = await status_when(live_client, evse, lambda d: d["activity"] == "charging")
        assert data["vehicle_status"] == "ready"
        await station.set_charging_state(1, "EVConnected")
        data = await status_when(live_client, evse, lambda d: d["vehicle_status"] != "ready")
        assert data["vehicle_status"] == "vehicle_detected"
