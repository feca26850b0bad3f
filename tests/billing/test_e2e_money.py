"""End to end, issue 15 finding 1: a scripted OCPP 1.6 charger on a real socket to a real
daphne process reports Charging in the very second of its StartTransaction (what real
chargers do) and charges 20 kWh in 2 h. The purchase is 7.87 under "Standard AC", not the
20.57 of a session billed as idle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.db import connections
from django.utils import timezone
from ocpp.v16 import call

from billing.models import Purchase
from chargepoints.models import IdToken
from chargepoints.services import charge_point_add
from tests.billing.factories import assign, make_tariff
from tests.support.chargers import PASSWORD, Servers, eventually, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    running = Servers()
    yield running.get("money")
    running.stop()


@pytest.fixture(autouse=True)
def _close_worker_connections():
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


def _setup():
    charge_point = charge_point_add(identity=f"MONEY-{uuid.uuid4().hex[:8]}", password=PASSWORD, connector_count=1)
    tariff = make_tariff(
        name="Standard AC",
        energy_price_per_kwh=Decimal("0.30"),
        vat_percent=Decimal("21"),
        session_fee=Decimal("0.50"),
        idle_fee_per_minute=Decimal("0.10"),
        idle_grace_minutes=15,
    )
    assign(tariff, charge_point=charge_point, valid_from=timezone.now() - timedelta(days=1))
    IdToken.objects.create(uid="CARD-E2E")
    return charge_point


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_a_charging_status_in_the_start_second_is_billed_to_the_cent(server):
    charge_point = await sync_to_async(_setup)()
    # A session that ran over the last two hours, every frame with its exact time (the
    # charger was not rebooted in between, so it sends no BootNotification first).
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2, seconds=5)
    async with simulated(server, charge_point.identity, boot=False) as charger:
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=_ts(t0))
        )
        started = await charger.call(
            call.StartTransaction(connector_id=1, id_tag="CARD-E2E", meter_start=0, timestamp=_ts(t0))
        )
        assert started.id_tag_info["status"] == "Accepted"
        await charger.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=_ts(t0))
        )
        await charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": _ts(t0 + timedelta(hours=1)),
                        "sampledValue": [
                            {"value": "10000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                        ],
                    }
                ],
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=20_000,
                timestamp=_ts(t0 + timedelta(hours=2)),
                transaction_id=started.transaction_id,
                reason="EVDisconnected",
            )
        )
        await charger.call(
            call.StatusNotification(
                connector_id=1, error_code="NoError", status="Available", timestamp=_ts(t0 + timedelta(hours=2))
            )
        )

    purchase = await eventually(
        lambda: Purchase.objects.filter(session__charge_point=charge_point, priced_at__isnull=False).first(), timeout=15
    )
    assert purchase is not None
    # 20 kWh x 0.30 + 0.50 session fee = 6.50; + 21 % VAT = 7.865 -> 7.87. No idle minute.
    assert (purchase.energy_wh, purchase.idle_minutes) == (20_000, 0)
    assert (purchase.subtotal, purchase.vat_amount, purchase.total_price) == (
        Decimal("6.50"),
        Decimal("1.37"),
        Decimal("7.87"),
    )
