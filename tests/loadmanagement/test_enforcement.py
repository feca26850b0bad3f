"""A run against chargers that are not connected: the real command bus answers "offline",
the run records it and ends (no endless retry), and the unreachable cars then count at
their maximum until their chargers are back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargepoints.models import ChargePoint
from loadmanagement import enforcement, services
from loadmanagement.models import ConnectorAllocation, LimitStatus, SiteLoadSettings
from tests.factories import ChargePointFactory, ChargeSessionFactory, ConnectorFactory, SiteFactory

pytestmark = pytest.mark.django_db(transaction=True)


def running(site):
    connector = ConnectorFactory(charge_point=ChargePointFactory(site=site, protocol="ocpp1.6"))
    return ChargeSessionFactory(connector=connector)


def test_unreachable_chargers_are_recorded_offline_and_counted_at_their_maximum(clean_cache):
    site = SiteFactory(grid_capacity_amps=40)
    SiteLoadSettings.objects.create(site=site, enabled=True)
    first, second = running(site), running(site)
    assert enforcement.site_enforce(site_id=site.pk) is True
    statuses = dict(ConnectorAllocation.objects.values_list("session_id", "status"))
    assert statuses == {first.pk: LimitStatus.OFFLINE, second.pk: LimitStatus.OFFLINE}
    plan = services.site_plan(site_id=site.pk)
    assert plan.lower == [] and plan.raise_ == []  # nothing to send to chargers out of reach
    # Back online: each gets its share again (sent first, as its present limit is unknown).
    ChargePoint.objects.filter(site=site).update(is_online=True)
    plan = services.site_plan(site_id=site.pk)
    assert {c.session_pk: c.limit_amps for c in plan.lower} == {first.pk: Decimal("20.0"), second.pk: Decimal("20.0")}


def test_a_site_turned_off_forgets_its_limits(clean_cache):
    site = SiteFactory(grid_capacity_amps=40)
    SiteLoadSettings.objects.create(site=site, enabled=True)
    session = running(site)
    ConnectorAllocation.objects.create(
        connector=session.connector, session=session, limit_amps=Decimal("16"), status=LimitStatus.ACCEPTED
    )
    SiteLoadSettings.objects.filter(site=site).update(enabled=False)
    enforcement.site_enforce(site_id=site.pk)
    allocation = ConnectorAllocation.objects.get(connector=session.connector)
    assert allocation.session is None and allocation.limit_amps is None
