"""The admin keeps operators apart (issue 16, finding 6): the user admin is scoped, staff
cannot change superuser/staff/permission/operator fields unless superuser, foreign-key
choices (raw-id ones and inlines included) are limited to the staff member's operator and
re-checked on save, and TariffForm lists its fields."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chargepoints.models import IdToken
from tariffs.admin import TariffForm
from tariffs.models import Tariff, TariffAssignment
from tests.factories import (
    ChargeSessionFactory,
    OperatorFactory,
    SiteFactory,
    StaffFactory,
    TariffFactory,
)

pytestmark = pytest.mark.django_db

PERMISSIONS = [
    "view_user",
    "change_user",
    "add_tariff",
    "change_tariff",
    "view_tariff",
    "add_tariffassignment",
    "change_tariffassignment",
    "view_tariffassignment",
    "add_idtoken",
    "change_idtoken",
    "view_idtoken",
    "view_site",
    "view_operator",
    "view_chargepoint",
]


@pytest.fixture
def world():
    a, b = OperatorFactory(name="Alpha"), OperatorFactory(name="Beta")
    a_site, b_site = SiteFactory(operator=a), SiteFactory(operator=b)
    a_driver = ChargeSessionFactory(connector__charge_point__site=a_site).user
    b_driver = ChargeSessionFactory(connector__charge_point__site=b_site).user
    a_staff = StaffFactory(operator=a, username="alpha-staff")
    b_staff = StaffFactory(operator=b, username="beta-staff")
    b_staff.user_permissions.set(Permission.objects.filter(codename__in=PERMISSIONS))
    client = Client()
    client.force_login(b_staff)
    return {
        "a": a,
        "b": b,
        "a_site": a_site,
        "b_site": b_site,
        "a_driver": a_driver,
        "b_driver": b_driver,
        "a_staff": a_staff,
        "b_staff": b_staff,
        "client": client,
    }


def test_staff_see_only_their_operators_users(world):
    page = world["client"].get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "beta-staff" in page and world["b_driver"].phone in page
    assert "alpha-staff" not in page and world["a_driver"].phone not in page
    other = world["client"].get(reverse("admin:accounts_user_change", args=[world["a_staff"].pk]))
    assert other.status_code == 302  # "doesn't exist" redirect, as for any object out of reach


def _change_data(client, user: User) -> dict:
    form = client.get(reverse("admin:accounts_user_change", args=[user.pk])).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["date_joined_0"], data["date_joined_1"] = user.date_joined.strftime("%Y-%m-%d"), "00:00:00"
    data.pop("date_joined", None)
    data.pop("last_login", None)
    return data


def test_staff_cannot_make_themselves_superuser_or_move_operator(world):
    client, me = world["client"], world["b_staff"]
    form = client.get(reverse("admin:accounts_user_change", args=[me.pk])).context["adminform"].form
    assert not {"is_superuser", "is_staff", "operator", "groups", "user_permissions"} & set(form.fields)
    data = {
        **_change_data(client, me),
        "is_superuser": "on",
        "operator": world["a"].pk,
        "user_permissions": [p.pk for p in Permission.objects.all()],
        "name": "Renamed",
    }
    response = client.post(reverse("admin:accounts_user_change", args=[me.pk]), data)
    assert response.status_code == 302
    me.refresh_from_db()
    assert me.name == "Renamed"  # the change went through...
    assert not me.is_superuser and me.operator_id == world["b"].pk  # ...without the privileges
    assert me.user_permissions.count() == len(PERMISSIONS)


def test_a_superuser_still_manages_privileges(world):
    root = User.objects.create_superuser("root", "root-password")
    client = Client()
    client.force_login(root)
    form = client.get(reverse("admin:accounts_user_change", args=[world["b_staff"].pk])).context["adminform"].form
    assert {"is_superuser", "operator", "user_permissions"} <= set(form.fields)


def test_tariff_choices_and_saves_stay_within_the_operator(world):
    client = world["client"]
    form = client.get(reverse("admin:tariffs_tariff_add")).context["adminform"].form
    assert list(form.fields["operator"].queryset) == [world["b"]]
    data = {
        "operator": world["a"].pk,
        "name": "Gouge",
        "currency": "EUR",
        "kind": "fixed",
        "energy_price_per_kwh": "99",
        "market": "default",
        "markup_per_kwh": "0",
        "vat_percent": "0",
        "session_fee": "0",
        "idle_fee_per_minute": "0",
        "idle_grace_minutes": "0",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:tariffs_tariff_add"), data)
    assert response.status_code == 200 and "operator" in response.context["adminform"].form.errors
    assert not Tariff.objects.filter(name="Gouge").exists()


def test_a_tariff_cannot_be_assigned_to_another_operators_site(world):
    client = world["client"]
    tariff = TariffFactory(operator=world["b"], energy_price_per_kwh=Decimal("0.30"))
    url = reverse("admin:tariffs_tariffassignment_add")
    response = client.post(
        url, {"tariff": tariff.pk, "site": world["a_site"].pk, "valid_from_0": "2026-01-01", "valid_from_1": "00:00:00"}
    )
    assert response.status_code == 200 and "site" in response.context["adminform"].form.errors
    # The inline on the tariff page re-checks the same way.
    page = client.get(reverse("admin:tariffs_tariff_change", args=[tariff.pk]))
    inline = page.context["inline_admin_formsets"][0].formset
    assert list(inline.form.base_fields["site"].queryset) == [world["b_site"]]
    assert not TariffAssignment.objects.filter(site=world["a_site"]).exists()


def test_cards_cannot_be_bound_to_another_operators_drivers(world):
    client = world["client"]
    response = client.post(
        reverse("admin:chargepoints_idtoken_add"),
        {
            "uid": "STOLEN-1",
            "token_type": "ISO14443",
            "user": world["a_driver"].pk,
            "operator": world["b"].pk,
            "status": "Accepted",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200 and "user" in response.context["adminform"].form.errors
    assert not IdToken.objects.filter(uid="STOLEN-1").exists()
    ok = client.post(
        reverse("admin:chargepoints_idtoken_add"),
        {
            "uid": "MINE-1",
            "token_type": "ISO14443",
            "user": world["b_driver"].pk,
            "operator": world["b"].pk,
            "status": "Accepted",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert ok.status_code == 302, ok.context["adminform"].form.errors if ok.context else ok


def test_the_tariff_form_lists_its_fields():
    assert TariffForm._meta.fields != "__all__"
    assert "operator" in TariffForm._meta.fields and "created_at" not in TariffForm._meta.fields
