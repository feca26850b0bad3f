"""/api/operator/sites/<id>/load/: a site's load settings and current allocation, and
changing them (journaled, scoped to the operator's own sites, bad input refused)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from loadmanagement.models import ConnectorAllocation, LimitStatus, LoadSettingsChange, SiteLoadSettings
from tests.factories import ChargeSessionFactory, StaffFactory

pytestmark = pytest.mark.django_db
API = "/api/operator"


def test_it_reads_the_settings_and_each_connectors_limit_and_draw(client, site, charger):
    SiteLoadSettings.objects.create(site=site, enabled=True, capacity_amps=Decimal("40"), safety_margin_amps=2)
    connector = charger.connectors.get(connector_id=1)
    session = ChargeSessionFactory(connector=connector)
    ConnectorAllocation.objects.create(
        connector=connector,
        session=session,
        limit_amps=Decimal("16"),
        status=LimitStatus.ACCEPTED,
        draw_amps=[15.9, 15.8, 16.0],
    )
    body = client.get(f"{API}/sites/{site.pk}/load/").json()
    assert body["enabled"] is True and body["capacity_amps"] == "40.0" and body["net_capacity_amps"] == "38.0"
    first, second = body["connectors"]
    assert first["charge_point"] == "station42" and first["connector_id"] == 1
    assert (
        first["limit_amps"] == "16.0"
        and first["limit_status"] == "accepted"
        and first["draw_amps"] == [15.9, 15.8, 16.0]
    )
    assert second["limit_amps"] is None and second["session_id"] is None


def test_a_site_without_settings_reads_as_off(client, site):
    body = client.get(f"{API}/sites/{site.pk}/load/").json()
    assert body["enabled"] is False and body["strategy"] == "equal" and body["connectors"] == []


def test_it_turns_load_management_on_and_journals_the_change(client, site):
    answer = client.patch(
        f"{API}/sites/{site.pk}/load/update/",
        {"enabled": True, "capacity_amps": "63", "strategy": "unused"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["enabled"] is True and answer.json()["strategy"] == "unused"
    change = LoadSettingsChange.objects.get(site=site)
    assert change.source == "api" and change.actor is None
    assert change.changes["enabled"] == [False, True] and change.changes["capacity_amps"] == [None, "63.0"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"safety_margin_amps": "-1"}, "safety_margin_amps"),
        ({"strategy": "greedy"}, "strategy"),
        ({"capacity_amps": "not a number"}, "capacity_amps"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(client, site, payload, field):
    answer = client.patch(f"{API}/sites/{site.pk}/load/update/", payload, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert not LoadSettingsChange.objects.exists()


def test_turning_it_on_without_a_capacity_is_refused_with_a_clear_message(client, site):
    site.grid_capacity_amps = None
    site.save()
    answer = client.patch(f"{API}/sites/{site.pk}/load/update/", {"enabled": True}, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_load_settings" and "capacity" in answer.json()["detail"]


def test_another_operators_site_is_not_found(client, foreign_charger):
    site_id = foreign_charger.site_id
    assert client.get(f"{API}/sites/{site_id}/load/").status_code == 404
    assert client.patch(f"{API}/sites/{site_id}/load/update/", {"enabled": False}, format="json").status_code == 404


def test_staff_need_the_view_permission_to_read_and_the_change_permission_to_write(operator, site):
    staff = StaffFactory(operator=operator, role="")
    staff.user_permissions.add(Permission.objects.get(codename="view_siteloadsettings"))
    client = APIClient()
    client.force_authenticate(staff)
    assert client.get(f"{API}/sites/{site.pk}/load/").status_code == 200
    assert (
        client.patch(f"{API}/sites/{site.pk}/load/update/", {"strategy": "priority"}, format="json").status_code == 403
    )
    staff.user_permissions.add(Permission.objects.get(codename="change_siteloadsettings"))
    staff = type(staff).objects.get(pk=staff.pk)  # a fresh permission cache
    client.force_authenticate(staff)
    assert (
        client.patch(f"{API}/sites/{site.pk}/load/update/", {"strategy": "priority"}, format="json").status_code == 200
    )
    assert LoadSettingsChange.objects.get().actor == staff


@pytest.mark.parametrize("role, write", [("Operator viewer", 403), ("Operator engineer", 403), ("Operator admin", 200)])
def test_the_operator_roles_read_load_management_and_only_admins_change_it(operator, site, role, write):
    client = APIClient()
    client.force_authenticate(StaffFactory(operator=operator, role=role))
    assert client.get(f"{API}/sites/{site.pk}/load/").status_code == 200
    answer = client.patch(f"{API}/sites/{site.pk}/load/update/", {"strategy": "priority"}, format="json")
    assert answer.status_code == write
