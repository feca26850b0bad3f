"""The portal's load management page: capacity, each connector's limit and draw, the live
fragment, and the chart of the site's draw against its capacity."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loadmanagement.models import ConnectorAllocation, LimitStatus, SiteLoadSample, SiteLoadSettings
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def managed(world):
    operator, site, created, active = world["alpha"]
    SiteLoadSettings.objects.create(site=site, enabled=True, capacity_amps=Decimal("40"), safety_margin_amps=2)
    ConnectorAllocation.objects.create(
        connector=active.connector,
        session=active,
        limit_amps=Decimal("16"),
        status=LimitStatus.ACCEPTED,
        draw_amps=[15.9, 15.8, 16.0],
        over_limit_since=timezone.now(),
    )
    now = timezone.now()
    for minutes, draw in ((30, 12.0), (20, 15.0), (10, 16.0)):
        SiteLoadSample.objects.create(
            site=site,
            at=now - timedelta(minutes=minutes),
            capacity_amps=Decimal("38"),
            limits_amps=[16, 16, 16],
            draw_amps=[draw, draw - 0.1, draw],
        )
    SiteLoadSample.objects.create(site=site, at=now - timedelta(hours=30), capacity_amps=Decimal("38"))
    return site, active


def test_the_page_shows_the_capacity_each_connectors_limit_and_draw_and_the_history(alpha_client, managed):
    site, active = managed
    response = alpha_client.get(f"/sites/{site.pk}/load/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "40.0 A per phase" in page and "38.0 A per phase" in page
    row = next(r for r in response.context["rows"] if r["session_id"] == active.pk)
    assert row["limit_amps"] == Decimal("16.0") and row["draw_amps"] == [15.9, 15.8, 16.0] and row["over_limit"]
    assert "15.9 / 15.8 / 16.0" in page and "above its limit" in page
    chart = response.context["chart"]
    assert [p[1] for p in chart["draw"]] == [12.0, 15.0, 16.0]  # the last 24 hours only
    assert [p[1] for p in chart["capacity"]] == [38.0, 38.0, 38.0]
    assert 'id="site-load-chart"' in page and 'data-ws-query="?site=' in page


def test_the_live_fragment_follows_the_allocation(alpha_client, managed):
    site, active = managed
    ConnectorAllocation.objects.filter(session=active).update(limit_amps=Decimal("0"))
    fragment = alpha_client.get(f"/sites/{site.pk}/load/live/").content.decode()
    assert "paused" in fragment and "<html" not in fragment


def test_another_operators_site_is_not_found(alpha_client, world):
    beta_site = world["beta"][1]
    assert alpha_client.get(f"/sites/{beta_site.pk}/load/").status_code == 404
    assert alpha_client.get(f"/sites/{beta_site.pk}/load/live/").status_code == 404


def test_staff_without_the_view_permission_are_refused(client, world, managed):
    site, _ = managed
    client.force_login(StaffFactory(operator=world["alpha"][0], role=""))
    assert client.get(f"/sites/{site.pk}/load/").status_code == 403


def test_the_charger_page_links_to_its_sites_load_page(alpha_client, managed):
    site, active = managed
    page = alpha_client.get(f"/chargers/{active.charge_point.identity}/").content.decode()
    assert f"/sites/{site.pk}/load/" in page
