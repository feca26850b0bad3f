from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tariffs.models import ElectricityPrice, TariffAssignment
from tariffs.selectors import charge_point_prices, tariff_for_charge_point
from tariffs.services import tariff_assign
from tests.billing.factories import assign, make_charge_point, make_tariff

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 5, 10, 12, 20, tzinfo=UTC)


def test_the_charge_point_assignment_wins_over_the_site():
    charge_point = make_charge_point()
    site_tariff, own_tariff = make_tariff(), make_tariff()
    assign(site_tariff, site=charge_point.site, valid_from=NOW - timedelta(hours=1))  # later, but only the site's
    assign(own_tariff, charge_point=charge_point, valid_from=NOW - timedelta(days=10))
    assert tariff_for_charge_point(charge_point=charge_point, at=NOW) == own_tariff
    other = make_charge_point(site=charge_point.site)
    assert tariff_for_charge_point(charge_point=other, at=NOW) == site_tariff


def test_the_latest_assignment_in_force_wins_and_future_ones_wait():
    charge_point = make_charge_point()
    old, current, future = make_tariff(), make_tariff(), make_tariff()
    assign(old, site=charge_point.site, valid_from=NOW - timedelta(days=30))
    assign(current, site=charge_point.site, valid_from=NOW - timedelta(days=1))
    assign(future, site=charge_point.site, valid_from=NOW + timedelta(days=1))
    assert tariff_for_charge_point(charge_point=charge_point, at=NOW) == current
    assert tariff_for_charge_point(charge_point=charge_point, at=NOW - timedelta(days=2)) == old
    assert tariff_for_charge_point(charge_point=charge_point, at=NOW + timedelta(days=2)) == future
    assert tariff_for_charge_point(charge_point=charge_point, at=NOW - timedelta(days=90)) is None


def test_a_charge_point_without_site_or_assignment_has_no_tariff():
    charge_point = make_charge_point()
    charge_point.site = None
    assert tariff_for_charge_point(charge_point=charge_point, at=NOW) is None
    assert charge_point_prices(charge_point=charge_point, at=NOW) == (Decimal("0"), Decimal("0"))


def test_driver_prices_include_vat_for_a_fixed_tariff():
    charge_point = make_charge_point()
    tariff = make_tariff(
        energy_price_per_kwh=Decimal("0.35"), idle_fee_per_minute=Decimal("0.05"), vat_percent=Decimal("21")
    )
    assign(tariff, site=charge_point.site, valid_from=NOW - timedelta(days=1))
    assert charge_point_prices(charge_point=charge_point, at=NOW) == (Decimal("0.4235"), Decimal("0.0605"))


@time_machine.travel(NOW, tick=False)
def test_driver_prices_of_a_dynamic_tariff_follow_the_current_hour():
    charge_point = make_charge_point()
    tariff = make_tariff(kind="dynamic", markup_per_kwh=Decimal("0.10"), vat_percent=Decimal("10"))
    assign(tariff, charge_point=charge_point, valid_from=NOW - timedelta(days=1))
    ElectricityPrice.objects.create(starts_at=datetime(2025, 5, 10, 12, tzinfo=UTC), price_per_kwh=Decimal("0.123456"))
    price, waiting = charge_point_prices(charge_point=charge_point)
    assert price == Decimal("0.2458")  # (0.123456 + 0.10) * 1.10 = 0.2458016
    assert waiting == Decimal("0.0000")


def test_tariff_assign_targets_exactly_one_and_replaces_the_same_moment():
    charge_point = make_charge_point()
    first, second = make_tariff(), make_tariff()
    with pytest.raises(ValidationError):
        tariff_assign(tariff=first)
    with pytest.raises(ValidationError):
        tariff_assign(tariff=first, site=charge_point.site, charge_point=charge_point)
    tariff_assign(tariff=first, charge_point=charge_point, valid_from=NOW)
    tariff_assign(tariff=second, charge_point=charge_point, valid_from=NOW)
    assert TariffAssignment.objects.get(charge_point=charge_point).tariff == second
