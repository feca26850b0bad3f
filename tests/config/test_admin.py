"""Every model of ours is in the admin, every list renders, and staff see only their operator."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from chargepoints.models import ChargePoint
from tests.factories import ChargePointFactory, OperatorFactory, StaffFactory

OUR_APPS = ["accounts", "chargepoints", "sessions_app", "tariffs", "billing", "payments"]
pytestmark = pytest.mark.django_db


def our_models():
    return [model for label in OUR_APPS for model in apps.get_app_config(label).get_models()]


def test_every_model_is_registered_in_the_admin():
    missing = [model.__name__ for model in our_models() if not admin.site.is_registered(model)]
    assert not missing, f"not in the admin: {missing}"


def test_every_changelist_and_detail_page_renders_with_demo_data(admin_client):
    call_command("load_demo", stdout=open("/dev/null", "w"))
    for model in our_models():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        first = model.objects.first()
        if first is not None:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            assert admin_client.get(url).status_code == 200, url


def test_the_journal_is_read_only(admin_client):
    response = admin_client.get(reverse("admin:chargepoints_ocppmessage_add"))
    assert response.status_code == 403


def test_staff_see_only_their_operators_charge_points(client):
    mine = ChargePointFactory(identity="MINE-1")
    theirs = ChargePointFactory(identity="THEIRS-1")
    staff = StaffFactory(operator=mine.site.operator)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_chargepoint", "change_chargepoint"]))
    client.force_login(staff)

    listing = client.get(reverse("admin:chargepoints_chargepoint_changelist")).content.decode()
    assert "MINE-1" in listing and "THEIRS-1" not in listing
    other = client.get(reverse("admin:chargepoints_chargepoint_change", args=[theirs.pk]))
    assert other.status_code in (302, 404)  # admin redirects for objects outside the queryset


def test_staff_without_an_operator_see_no_charge_points(client):
    ChargePointFactory(identity="SOMEONES-1")
    staff = StaffFactory(operator=None)
    staff.user_permissions.add(Permission.objects.get(codename="view_chargepoint"))
    client.force_login(staff)
    assert "SOMEONES-1" not in client.get(reverse("admin:chargepoints_chargepoint_changelist")).content.decode()


def test_setting_a_charger_password_stores_only_its_hash(admin_client):
    charge_point = ChargePointFactory(identity="PW-1", site__operator=OperatorFactory())
    url = reverse("admin:chargepoints_chargepoint_change", args=[charge_point.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not hasattr(v, "pk")}
    data.update(
        {
            "site": charge_point.site_id,
            "new_password": "a-long-charger-password",
            "protocol": "",
            "registration_status": "Accepted",
            "heartbeat_interval": 300,
            "connectors-TOTAL_FORMS": 0,
            "connectors-INITIAL_FORMS": 0,
        }
    )
    data = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in data.items()}
    for flag in ("public_charging", "is_operative"):
        data[flag] = "on"
    data.pop("plug_and_charge", None)
    data.pop("is_online", None)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    charge_point.refresh_from_db()
    # Charger secrets are stored as a salted HMAC since issue 16 (chargepoints/charger_secrets.py).
    assert charge_point.password_hash.startswith("hmac-sha256$")
    assert "a-long-charger-password" not in charge_point.password_hash
    from chargepoints.charger_secrets import matches

    assert matches("a-long-charger-password", charge_point.password_hash)
    assert ChargePoint.objects.filter(identity="PW-1").count() == 1


def _staff_of(operator, *models):
    staff = StaffFactory(operator=operator)
    codenames = [f"view_{name}" for name in models]
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def test_staff_see_only_their_operators_money_tariffs_reservations_and_keys(client):
    from decimal import Decimal

    from accounts.models import ApiKey
    from payments.models import Reservation
    from tests.factories import ConnectorFactory, ElectricityPriceFactory, PurchaseFactory, TariffFactory, WalletFactory

    mine, theirs = PurchaseFactory(total_price=Decimal("1.11")), PurchaseFactory(total_price=Decimal("9.99"))
    my_operator = mine.session.charge_point.site.operator
    their_operator = theirs.session.charge_point.site.operator
    TariffFactory(operator=my_operator, name="MY-TARIFF")
    TariffFactory(operator=their_operator, name="THEIR-TARIFF")
    ApiKey.objects.create(operator=my_operator, name="MY-KEY", prefix="mine", key_hash="a" * 64)
    ApiKey.objects.create(operator=their_operator, name="THEIR-KEY", prefix="theirs", key_hash="b" * 64)
    their_connector = ConnectorFactory(charge_point=theirs.session.charge_point, connector_id=5)
    Reservation.objects.create(
        charge_point=their_connector.charge_point,
        connector=their_connector,
        charge_tag="THEIR-TAG",
        max_amount=Decimal("10"),
        max_energy_wh=1000,
    )
    WalletFactory(user=mine.user)
    ElectricityPriceFactory()
    client.force_login(
        _staff_of(my_operator, "purchase", "tariff", "apikey", "reservation", "wallet", "electricityprice")
    )

    def listing(model: str) -> str:
        app = {
            "purchase": "billing",
            "wallet": "billing",
            "tariff": "tariffs",
            "electricityprice": "tariffs",
            "apikey": "accounts",
            "reservation": "payments",
        }[model]
        response = client.get(reverse(f"admin:{app}_{model}_changelist"))
        assert response.status_code == 200
        return response.content.decode()

    purchases = listing("purchase")
    assert f">{mine.pk}<" in purchases and f">{theirs.pk}<" not in purchases
    tariffs = listing("tariff")
    assert "MY-TARIFF" in tariffs and "THEIR-TARIFF" not in tariffs
    keys = listing("apikey")
    assert "MY-KEY" in keys and "THEIR-KEY" not in keys
    assert "THEIR-TAG" not in listing("reservation")
    # Wallets are used at every operator's chargers: platform data, superusers only.
    assert "0 wallets" in listing("wallet")
    # Market prices are shared.
    assert "0 electricity prices" not in listing("electricityprice")
    other = client.get(reverse("admin:billing_purchase_change", args=[theirs.pk]))
    assert other.status_code in (302, 404)
