"""The demo site's 160 A connection is shared by load management, set once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from loadmanagement.models import LoadSettingsChange, SiteLoadSettings, Strategy
from loadmanagement.selectors import net_capacity_amps, site_capacity

pytestmark = pytest.mark.django_db


def test_the_demo_site_has_load_management_on_and_keeps_an_operators_later_change():
    call_command("load_demo", stdout=open("/dev/null", "w"))
    load = SiteLoadSettings.objects.get(site__name="Demo Site Amsterdam")
    assert load.enabled and load.strategy == Strategy.UNUSED
    assert net_capacity_amps(site_capacity(load)) == Decimal("150.0")  # 160 A less the 10 A margin
    assert LoadSettingsChange.objects.get(site=load.site).source == "demo"
    SiteLoadSettings.objects.filter(pk=load.pk).update(strategy=Strategy.EQUAL)
    call_command("load_demo", stdout=open("/dev/null", "w"))
    assert SiteLoadSettings.objects.get(pk=load.pk).strategy == Strategy.EQUAL
    assert LoadSettingsChange.objects.filter(site=load.site).count() == 1
