"""Load settings changed in the admin go through the service: validated and journaled."""

from __future__ import annotations

import pytest

from loadmanagement.models import LoadSettingsChange, SiteLoadSettings
from tests.factories import SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_an_admin_change_is_journaled_with_its_author(client):
    site = SiteFactory(grid_capacity_amps=63)
    staff = StaffFactory(operator=site.operator)
    client.force_login(staff)
    answer = client.post(
        "/admin/loadmanagement/siteloadsettings/add/",
        {"site": site.pk, "enabled": "on", "safety_margin_amps": "3", "strategy": "priority"},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    load = SiteLoadSettings.objects.get(site=site)
    assert load.enabled and load.strategy == "priority"
    change = LoadSettingsChange.objects.get(site=site)
    assert change.source == "admin" and change.actor == staff
    assert change.changes["enabled"] == [False, True]


def test_staff_see_only_their_operators_sites_settings(client):
    mine, theirs = SiteFactory(), SiteFactory()
    SiteLoadSettings.objects.create(site=mine)
    SiteLoadSettings.objects.create(site=theirs)
    client.force_login(StaffFactory(operator=mine.operator))
    page = client.get("/admin/loadmanagement/siteloadsettings/").content.decode()
    assert str(mine.name) in page and str(theirs.name) not in page
