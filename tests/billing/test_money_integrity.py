"""Issue 15, money integrity: each finding as a regression test, with numbers a reader can
check by hand. The tariff is the demo's "Standard AC": 0.30/kWh, 0.50 session fee, 0.10/min
idle after 15 min grace, 21 % VAT."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.pricing import price_session
from billing.services import purchase_create_for_session
from chargepoints.models import IdToken
from sessions_app import services as sessions
from tests.billing.factories import add_state, assign, make_charge_point, make_session, make_tariff

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 15, 10, 0, 7, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def standard_ac(charge_point) -> None:
    tariff = make_tariff(
        name="Standard AC", energy_price_per_kwh=Decimal("0.30"), vat_percent=Decimal("21"),
        session_fee=Decimal("0.50"), idle_fee_per_minute=Decimal("0.10"), idle_grace_minutes=15,
    )
    assign(tariff, site=charge_point.site, valid_from=T0 - timedelta(days=1))


@pytest.fixture
def charge_point():
    charge_point = make_charge_point()
    standard_ac(charge_point)
    return charge_point


# --- finding 1: same-second state changes keep their arrival order -----------------------------

def test_a_charging_status_in_the_same_second_as_the_start_is_not_billed_as_idle(charge_point):
    IdToken.objects.create(uid="CARD")
    session, _ = sessions.charge_session_start(charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD",
                                               meter_start_wh=0, timestamp=T0)
    sessions.status_notification_apply(charge_point_id=charge_point.pk, connector_id=1, status="Charging", timestamp=T0)
    sessions.charge_session_stop(charge_point_id=charge_point.pk, transaction_id=session.transaction_id,
                                 meter_stop_wh=20_000, timestamp=at(120))
    purchase = purchase_create_for_session(session_id=session.pk)
    # 20 kWh x 0.30 + 0.50 = 6.50; + 21 % = 7.865 -> 7.87 (was 20.57: 105 idle minutes)
    assert purchase.idle_minutes == 0
    assert purchase.total_price == Decimal("7.87")


def test_state_changes_in_the_same_instant_apply_in_arrival_order_not_by_name(charge_point):
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(60), meter_stop_wh=1000)
    add_state(session, at(0), "SuspendedEV")  # alphabetically after Charging, arrived first
    add_state(session, at(0), "Charging")
    add_state(session, at(30), "SuspendedEV")
    add_state(session, at(30), "EVConnected")
    priced = price_session(session=session)
    # Charging 0-30, then EVConnected after charging (idle) 30-60.
    assert priced.idle_minutes == 30
    assert priced.idle_billed_minutes == 15


def test_a_dst_night_same_second_start_is_charging_time_too():
    charge_point = make_charge_point(time_zone="Europe/Amsterdam")
    standard_ac(charge_point)
    start = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST, the hour that repeats
    session = make_session(charge_point=charge_point, started_at=start, stopped_at=start + timedelta(hours=2),
                           meter_stop_wh=20_000)
    add_state(session, start, "EVConnected")
    add_state(session, start, "Charging")
    purchase = purchase_create_for_session(session_id=session.pk)
    assert (purchase.idle_minutes, purchase.total_price) == (0, Decimal("7.87"))
