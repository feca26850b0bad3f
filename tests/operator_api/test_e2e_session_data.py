"""End to end: a session's meter values and charging curve, and a charger's status
history, read through /api/operator/ after simulated 1.6 and 2.0.1 chargers charged over
real sockets to a real daphne process."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, IdToken
from sessions_app.models import ChargeSession, MeterSample
from tests.support.chargers import eventually, simulated, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _charger(operator_setup, **fields) -> ChargePoint:
    return await sync_to_async(operator_setup[1])(**fields)


def _samples(session_id: int, measurand: str) -> int:
    return MeterSample.objects.filter(session_id=session_id, measurand=measurand).count()


async def test_a_16_session_has_its_curve_and_the_connector_its_status_history(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-CURVE")
    async with simulated(server, cp.identity, meter_interval=0.2, power_w=7400) as charger:
        await charger.send_status(1, "Available")
        started = await charger.start_transaction(1, "TAG-CURVE")
        session = await sync_to_async(ChargeSession.objects.get)(transaction_id=str(started.transaction_id))
        await eventually(lambda: _samples(session.pk, "Power.Active.Import") >= 4, timeout=10)
        await charger.stop_transaction(1)

    curve = (await operator_tool.get(f"sessions/{session.pk}/charging-curve/")).json()
    points = curve["points"]
    assert curve["session"] == session.pk and len(points) >= 4
    charging = [p for p in points if p["power_w"]]
    assert charging and all(7000 <= p["power_w"] <= 7400 for p in charging)
    energies = [p["energy_wh"] for p in points if p["energy_wh"] is not None]
    assert energies == sorted(energies) and energies[-1] > 0
    assert all(p["soc_percent"] is not None for p in charging)
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)

    values = (await operator_tool.get(f"sessions/{session.pk}/meter-values/", measurand="Current.Import")).json()
    assert values["count"] >= 12 and {row["phase"] for row in values["results"]} == {"L1", "L2", "L3"}

    history = (await operator_tool.get(f"charge-points/{cp.identity}/status-history/", connector=1)).json()
    statuses = [row["status"] for row in reversed(history["results"])]
    assert statuses == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    assert all(row["connector"] == 1 for row in history["results"])
    only_charging = (await operator_tool.get(f"charge-points/{cp.identity}/status-history/", status="Charging")).json()
    assert only_charging["count"] == 1


async def test_a_201_station_status_history_and_repeats_are_stored_once(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity) as station:
        for status in ("Available", "Available", "Occupied", "Available", "Unavailable"):
            await station.send_status(2, status)
    history = (await operator_tool.get(f"charge-points/{cp.identity}/status-history/", connector=2)).json()
    assert [row["status"] for row in reversed(history["results"])] == [
        "Available",
        "Occupied",
        "Available",
        "Unavailable",
    ]
    assert (await operator_tool.get(f"charge-points/{cp.identity}/status-history/", connector="x")).status_code == 400
