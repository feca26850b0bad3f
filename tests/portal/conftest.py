"""Portal fixtures: two operators with chargers, sessions, purchases and payments, and
logged-in clients for each kind of user."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import PurchaseLine, WalletEntry
from chargepoints.models import OcppMessage
from payments.models import Payment
from sessions_app.models import MeterSample
from tests.factories import (
    ChargePointFactory,
    ChargeSessionFactory,
    ConnectorFactory,
    OperatorFactory,
    PurchaseFactory,
    SiteFactory,
    StaffFactory,
    WalletFactory,
)


def seed_operator(name: str, *, chargers: int = 2, sessions_per_connector: int = 2):
    operator = OperatorFactory(name=name, slug=name.lower())
    site = SiteFactory(operator=operator, name=f"{name} site")
    now = timezone.now()
    created = []
    for n in range(chargers):
        cp = ChargePointFactory(identity=f"{name}-CP-{n}", site=site, is_online=n % 2 == 0)
        connector = ConnectorFactory(charge_point=cp, connector_id=1, status="Charging" if n == 0 else "Available")
        for k in range(sessions_per_connector):
            started = now - timedelta(days=k + 1, hours=n)
            purchase = PurchaseFactory(
                session__connector=connector,
                session__charge_point=cp,
                session__started_at=started,
                session__stopped_at=started + timedelta(hours=1),
                session__meter_stop_wh=11000,
                total_price=Decimal("3.50"),
                created_at=started + timedelta(hours=1),
            )
            PurchaseLine.objects.create(
                purchase=purchase,
                kind="energy",
                description="Energy",
                quantity=Decimal("10"),
                unit="kWh",
                unit_price=Decimal("0.35"),
                amount=Decimal("3.5"),
            )
            Payment.objects.create(
                provider="sandbox",
                purpose="purchase",
                purchase=purchase,
                user=purchase.user,
                amount=Decimal("3.50"),
                idempotency_key=f"pay-{purchase.pk}",
            )
            wallet = WalletFactory(user=purchase.user)
            WalletEntry.objects.create(
                wallet=wallet, kind="top_up", amount=Decimal("20"), idempotency_key=f"w-{wallet.pk}"
            )
            created.append(purchase.session)
        OcppMessage.objects.create(
            charge_point=cp,
            charge_point_identity=cp.identity,
            direction="in",
            message_type=2,
            unique_id=f"u-{cp.identity}",
            action="BootNotification",
            payload={"chargePointVendor": "TestVendor"},
        )
    active = ChargeSessionFactory(
        connector=cp.connectors.first(),
        charge_point=cp,
        started_at=now - timedelta(minutes=30),
        meter_last_wh=3000,
        power_w=7400,
        soc_percent=55,
    )
    for i in range(10):
        at = active.started_at + timedelta(minutes=3 * i)
        MeterSample.objects.create(
            charge_point=cp,
            connector=active.connector,
            session=active,
            sampled_at=at,
            measurand="Energy.Active.Import.Register",
            value=Decimal(1000 + 200 * i),
            unit="Wh",
        )
        MeterSample.objects.create(
            charge_point=cp,
            connector=active.connector,
            session=active,
            sampled_at=at,
            measurand="Power.Active.Import",
            value=Decimal(7400),
            unit="W",
        )
        MeterSample.objects.create(
            charge_point=cp,
            connector=active.connector,
            session=active,
            sampled_at=at,
            measurand="SoC",
            value=Decimal(40 + i),
            unit="Percent",
        )
    return operator, site, created, active


@pytest.fixture(autouse=True)
def fresh_dashboard_cache(monkeypatch):
    """A private cache per test: the shared Redis must not be flushed, and cached daily
    figures must not leak between tests."""
    from django.core.cache.backends.locmem import LocMemCache

    from portal import selectors as portal_selectors

    cache = LocMemCache("portal-test", {})
    cache.clear()  # (LocMemCache instances of one name share their store across tests)
    monkeypatch.setattr(portal_selectors, "cache", cache)


@pytest.fixture
def world(db):
    a = seed_operator("Alpha")
    b = seed_operator("Beta")
    return {"alpha": a, "beta": b}


@pytest.fixture
def alpha_client(client, world):
    staff = StaffFactory(operator=world["alpha"][0])
    client.force_login(staff)
    client.user = staff
    return client


@pytest.fixture
def admin_client_all(client, world, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root-password")
    client.force_login(admin)
    return client
