"""Fixtures of the driver API tests: drivers with tokens, chargers, a fake command bus."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from chargepoints.models import ConnectorStatus
from tests.factories import ChargePointFactory, ConnectorFactory, SiteFactory
from tests.support.cache import clear_cache_keys
from tests.support.clients import client_for


@pytest.fixture(autouse=True)
def _clean_rate_limits():
    # Rate-limit counters live in the shared Redis cache and would leak between tests.
    clear_cache_keys()
    yield


@pytest.fixture
def api(driver) -> APIClient:
    return client_for(driver)


@pytest.fixture
def other_api(other_driver) -> APIClient:
    return client_for(other_driver)


@pytest.fixture
def charge_point(db):
    """An online 1.6 charger in Amsterdam with one Available connector."""
    site = SiteFactory(latitude=Decimal("52.370216"), longitude=Decimal("4.895168"))
    cp = ChargePointFactory(site=site, is_online=True, protocol="ocpp1.6")
    ConnectorFactory(charge_point=cp, connector_id=1, status=ConnectorStatus.AVAILABLE)
    return cp


class FakeBus:
    """Stands in for ocpp_consumer.commands.send: records calls, answers what it is told."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.answers: dict[str, object] = {}
        self.on_call = None

    def send(self, charge_point_id, action, payload, *, timeout=None, source=""):
        self.calls.append((charge_point_id, action, payload))
        if self.on_call:
            self.on_call(charge_point_id, action, payload)
        answer = self.answers.get(action, {"status": "Accepted"})
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def bus(monkeypatch) -> FakeBus:
    from ocpp_consumer import commands

    fake = FakeBus()
    monkeypatch.setattr(commands, "send", fake.send)
    return fake


@pytest.fixture
def wallet_with(db):
    def fund(user, amount: str):
        from billing.models import Wallet, WalletEntry

        wallet, _ = Wallet.objects.get_or_create(user=user)
        WalletEntry.objects.create(
            wallet=wallet,
            kind=WalletEntry.Kind.TOP_UP,
            amount=Decimal(amount),
            idempotency_key=f"test-{user.pk}-{WalletEntry.objects.count()}",
        )
        return wallet

    return fund
