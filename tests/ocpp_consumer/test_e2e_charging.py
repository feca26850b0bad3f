"""A whole charge over a real socket: boot, authorise, start, meter values, stop."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint, Connector, IdToken, OcppMessage
from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample
from tests.support.chargers import eventually, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def test_it_runs_a_charge_from_boot_to_stop(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    await sync_to_async(IdToken.objects.create)(uid="CARD-OK")
    async with simulated(server, cp.identity) as charger:
        assert (await charger.authorize("CARD-OK"))["status"] == "Accepted"
        started = await charger.start_transaction(1, "CARD-OK", meter_loop=False)
        assert started.id_tag_info["status"] == "Accepted"
        charger.state.meters[1] += 1500
        await charger.send_meter_values(1)
        session = await sync_to_async(ChargeSession.objects.get)(transaction_id=str(started.transaction_id))
        assert session.status == "active" and session.charging_state == "Charging"
        assert session.meter_last_wh == session.meter_start_wh + 1500
        assert session.power_w is not None and session.soc_percent is not None
        stopped = await charger.stop_transaction(1)
        assert stopped.id_tag_info["status"] == "Accepted"

    session = await sync_to_async(ChargeSession.objects.get)(pk=session.pk)
    assert session.status == "completed" and session.closed_by == "charger"
    assert session.energy_wh == 1500
    assert await sync_to_async(MeterSample.objects.filter(session=session).count)() == 7 + 1
    states = await sync_to_async(
        lambda: list(ChargingStateChange.objects.filter(session=session).values_list("charging_state", flat=True))
    )()
    assert states == ["EVConnected", "Charging", "Idle"]
    connector = await sync_to_async(Connector.objects.get)(charge_point=cp, connector_id=1)
    assert connector.status == "Available" and connector.meter_wh == session.meter_stop_wh
    # Every frame was journalled, both ways.
    actions = await sync_to_async(
        lambda: set(OcppMessage.objects.filter(charge_point=cp).values_list("action", "direction"))
    )()
    for action in (
        "BootNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
        "StatusNotification",
    ):
        assert (action, "in") in actions and (action, "out") in actions
    assert await eventually(lambda: not ChargePoint.objects.get(pk=cp.pk).is_online)
