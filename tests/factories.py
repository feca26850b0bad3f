"""Factories for the domain model, shared by every test package."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from accounts import permissions
from accounts.models import Operator, User
from billing.models import Purchase, Wallet
from chargepoints.models import ChargePoint, Connector, Evse, IdToken, Site
from sessions_app.models import ChargeSession
from tariffs.models import ElectricityPrice, Tariff

CHARGER_PASSWORD = "test-charger-password"


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator

    name = factory.Sequence(lambda n: f"Operator {n}")
    slug = factory.Sequence(lambda n: f"operator-{n}")


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    phone = factory.Sequence(lambda n: f"+3161{n:07d}")
    username = factory.SelfAttribute("phone")
    name = factory.Faker("name")
    email = factory.Faker("email")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    operator = factory.SubFactory(OperatorFactory)
    password = factory.LazyFunction(lambda: make_password("staff-password"))

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """Staff are their operator's admins (the "Operator admin" group) unless a test
        names another role, or role="" for none."""
        if not create:
            return
        name = permissions.ADMIN if extracted is None else extracted
        if name:
            group = Group.objects.filter(name=name).first()
            if group is None:  # a transactional test's flush removed the migration's groups
                permissions.operator_groups_ensure(Group, Permission)
                group = Group.objects.get(name=name)
            self.groups.add(group)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    operator = factory.SubFactory(OperatorFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    latitude = Decimal("52.370216")
    longitude = Decimal("4.895168")
    time_zone = "Europe/Amsterdam"


class ChargePointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargePoint

    identity = factory.Sequence(lambda n: f"CP-{n:04d}")
    site = factory.SubFactory(SiteFactory)
    vendor = "TestVendor"
    model = "TV-1"
    password_hash = factory.LazyFunction(lambda: make_password(CHARGER_PASSWORD))


class EvseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evse

    charge_point = factory.SubFactory(ChargePointFactory)
    evse_id = 1


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    charge_point = factory.SubFactory(ChargePointFactory)
    evse = factory.LazyAttribute(
        lambda o: Evse.objects.get_or_create(charge_point=o.charge_point, evse_id=o.connector_id)[0]
    )
    connector_id = 1


class IdTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdToken

    uid = factory.Sequence(lambda n: f"TAG{n:06d}")
    user = factory.SubFactory(DriverFactory)


class ChargeSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargeSession

    connector = factory.SubFactory(ConnectorFactory)
    charge_point = factory.SelfAttribute("connector.charge_point")
    user = factory.SubFactory(DriverFactory)
    transaction_id = factory.Sequence(lambda n: str(n + 1))
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    meter_start_wh = 1000


class PurchaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purchase

    session = factory.SubFactory(
        ChargeSessionFactory,
        status="completed",
        stopped_at=factory.LazyFunction(timezone.now),
        meter_stop_wh=11000,
    )
    user = factory.SelfAttribute("session.user")
    total_price = Decimal("3.50")


class WalletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Wallet

    user = factory.SubFactory(DriverFactory)


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff

    operator = factory.SubFactory(OperatorFactory)
    name = factory.Sequence(lambda n: f"Tariff {n}")
    energy_price_per_kwh = Decimal("0.30")


class ElectricityPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ElectricityPrice

    starts_at = factory.Sequence(
        lambda n: timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=n)
    )
    price_per_kwh = Decimal("0.120000")
