"""Permissions are honoured (issue 16, finding 7): a staff user without permissions used to
create sites and tariffs through /api/operator/ and send commands in the portal. The
"Operator viewer/engineer/admin" groups come from a data migration; /api/operator/ and the
portal's commands check Django permissions (send_commands for commands); API keys have a
scope (read, commands, full)."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts import permissions
from accounts.models import ApiKey
from accounts.secrets import new_token, token_hash
from ocpp_consumer import commands
from operator_api.access import REQUIRED
from operator_api.base import OperatorApi
from operator_api.ocppcore import OcppCoreApi
from tests.factories import ChargePointFactory, ConnectorFactory, OperatorFactory, SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db
API = "/api/operator"


@pytest.fixture
def world(monkeypatch):
    operator = OperatorFactory()
    site = SiteFactory(operator=operator)
    charger = ChargePointFactory(site=site, identity="PERM-CP-1", is_online=True)
    ConnectorFactory(charge_point=charger, connector_id=1)
    sent = []
    monkeypatch.setattr(
        commands, "send", lambda cp, action, payload, **kw: sent.append(action) or {"status": "Accepted"}
    )
    return {"operator": operator, "site": site, "sent": sent}


def _staff_client(operator, role: str) -> APIClient:
    client = APIClient()
    client.force_login(StaffFactory(operator=operator, role=role))
    return client


def _key_client(operator, scope: str) -> APIClient:
    raw = new_token("op")
    ApiKey.objects.create(operator=operator, name=scope, prefix=raw[:10], key_hash=token_hash(raw), scope=scope)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def _migration_groups_present_again() -> None:
    """The groups come from a data migration. A transactional test earlier in the same process
    flushes every table, and then they are gone: run the migration's step again, on the
    historical models, as migrate does."""
    if Group.objects.filter(name__in=[permissions.VIEWER, permissions.ENGINEER, permissions.ADMIN]).count() == 3:
        return
    migration = importlib.import_module("accounts.migrations.0003_operator_groups")
    state = MigrationExecutor(connection).loader.project_state(("accounts", "0003_operator_groups"), at_end=True)
    migration.groups_create(state.apps, None)


def test_the_data_migration_creates_the_three_roles():
    _migration_groups_present_again()
    viewer, engineer, admin = (
        Group.objects.get(name=n) for n in (permissions.VIEWER, permissions.ENGINEER, permissions.ADMIN)
    )
    codes = {g: set(g.permissions.values_list("codename", flat=True)) for g in (viewer, engineer, admin)}
    assert "view_site" in codes[viewer] and "send_commands" not in codes[viewer] and "add_site" not in codes[viewer]
    assert "send_commands" in codes[engineer] and "add_site" not in codes[engineer]
    assert {"add_site", "change_tariff", "send_commands"} <= codes[admin]
    assert "add_electricityprice" not in codes[admin] and "add_walletentry" not in codes[admin]


@pytest.mark.parametrize(
    "role, read, write, command",
    [
        ("", 403, 403, 403),
        (permissions.VIEWER, 200, 403, 403),
        (permissions.ENGINEER, 200, 403, 200),
        (permissions.ADMIN, 200, 201, 200),
    ],
)
def test_the_operator_api_checks_the_staff_members_permissions(world, role, read, write, command):
    client = _staff_client(world["operator"], role)
    assert client.get(f"{API}/sites/").status_code == read
    created = client.post(
        f"{API}/sites/create/",
        {"name": f"New {role}", "time_zone": "UTC", "latitude": 52.0, "longitude": 5.0},
        format="json",
    )
    assert created.status_code == write, created.content
    reset = client.post(f"{API}/charge-points/PERM-CP-1/commands/v16/Reset/", {"type": "Soft"}, format="json")
    assert reset.status_code == command, reset.content
    assert world["sent"] == (["Reset"] if command == 200 else [])


@pytest.mark.parametrize(
    "scope, read, write, command",
    [
        ("read", 200, 403, 403),
        ("commands", 200, 403, 200),
        ("full", 200, 201, 200),
    ],
)
def test_api_keys_have_a_scope(world, scope, read, write, command):
    client = _key_client(world["operator"], scope)
    assert client.get(f"{API}/charge-points/").status_code == read
    assert (
        client.post(
            f"{API}/sites/create/",
            {"name": f"Key {scope}", "time_zone": "UTC", "latitude": 52.0, "longitude": 5.0},
            format="json",
        ).status_code
        == write
    )
    assert (
        client.post(f"{API}/charge-points/PERM-CP-1/commands/v16/Reset/", {"type": "Soft"}, format="json").status_code
        == command
    )
    # The OCPP.Core-compatible API too: Status reads, Reset is a command.
    assert client.get("/API/Status").status_code == 200
    assert client.get("/API/Reset/PERM-CP-1").status_code == (403 if command == 403 else 200)


def test_a_read_only_key_cannot_start_chargers_through_the_payments_api(world):
    response = _key_client(world["operator"], "read").post(
        "/API/Payments/Create", {"chargePointId": "PERM-CP-1", "connectorId": 1, "chargeTagId": "x"}, format="json"
    )
    assert response.status_code == 403


def test_portal_commands_need_the_send_commands_permission(world):
    for role, expected in [(permissions.VIEWER, 403), (permissions.ENGINEER, 302)]:
        client = _staff_client(world["operator"], role)
        response = client.post("/chargers/PERM-CP-1/command/", {"command": "reset", "type": "Soft"})
        assert response.status_code == expected
    assert world["sent"] == ["Reset"]


def _views(resolver) -> list[type]:
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None:
                found.append(view_class)
    return found


def test_every_operator_api_view_names_what_it_needs():
    views = {view for view in _views(get_resolver()) if issubclass(view, (OperatorApi, OcppCoreApi))}
    assert len(views) > 40
    assert {view.__name__ for view in views} <= set(REQUIRED)


def test_the_admin_creates_a_key_with_the_chosen_scope(admin_client):
    import re

    from django.urls import reverse

    operator = OperatorFactory()
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {"operator": operator.pk, "name": "dashboards", "scope": "read"},
        follow=True,
    )
    raw = re.search(r"API key created: (csk_[\w-]+)", response.content.decode()).group(1)
    key = ApiKey.objects.get(name="dashboards")
    assert key.scope == "read" and raw.startswith(key.prefix)


def test_cards_bind_only_to_the_operators_drivers_without_revealing_user_ids(world):
    from tests.factories import ChargeSessionFactory, DriverFactory

    client = _key_client(world["operator"], "full")
    own = ChargeSessionFactory(connector=world["operator"].sites.first().charge_points.first().connectors.first()).user
    stranger = DriverFactory()  # exists, but never charged here
    ok = client.post(f"{API}/id-tokens/create/", {"uid": "BIND-1", "user": own.pk}, format="json")
    assert ok.status_code == 201 and ok.json()["user"] == own.pk
    refused = client.post(f"{API}/id-tokens/create/", {"uid": "BIND-2", "user": stranger.pk}, format="json")
    missing = client.post(f"{API}/id-tokens/create/", {"uid": "BIND-3", "user": 987654321}, format="json")
    assert refused.status_code == missing.status_code == 400
    assert refused.json()["user"][0].replace(str(stranger.pk), "N") == missing.json()["user"][0].replace(
        "987654321", "N"
    )
    token_id = ok.json()["id"]
    assert client.patch(f"{API}/id-tokens/{token_id}/update/", {"user": stranger.pk}, format="json").status_code == 400


PORTAL_PAGES = [
    "/",
    "/dashboard/live/",
    "/map/",
    "/chargers/",
    "/chargers/PERM-CP-1/",
    "/journal/",
    "/sessions/",
    "/tariffs/",
    "/drivers/",
    "/purchases/",
    "/payments/",
    "/wallets/",
]


@pytest.mark.parametrize("url", PORTAL_PAGES)
def test_portal_pages_need_their_view_permission(world, url):
    assert _staff_client(world["operator"], "").get(url).status_code == 403
    assert _staff_client(world["operator"], permissions.VIEWER).get(url).status_code == 200


def test_every_portal_page_names_its_permission():
    from portal.views import PAGE_PERMISSIONS

    staff_pages = {
        pattern.callback.portal_page
        for pattern in _portal_patterns(get_resolver())
        if hasattr(pattern.callback, "portal_page")
    }
    assert len(staff_pages) >= 15 and staff_pages <= set(PAGE_PERMISSIONS)


def _portal_patterns(resolver) -> list[URLPattern]:
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += _portal_patterns(pattern)
        elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "__module__", "").split(".")[0] == "portal":
            found.append(pattern)
    return found
