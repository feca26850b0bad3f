from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from accounts.models import ApiKey
from accounts.secrets import token_hash
from payments import events
from tests.factories import ConnectorFactory, IdTokenFactory
from tests.payments.fakes import fake_klarna, fake_qpay, fake_stripe


@pytest.fixture
def emitted():
    """Every payment event emitted, as (user_id, kind, data)."""
    seen: list[tuple[int, str, dict]] = []

    def hook(user_id, kind, data):
        seen.append((user_id, kind, data))

    events.register(hook)
    yield seen
    events.unregister(hook)


@pytest.fixture
def qpay(settings):
    server = fake_qpay().start()
    settings.QPAY_BASE_URL = server.url
    settings.QPAY_CLIENT_ID = "merchant-id"
    settings.QPAY_CLIENT_SECRET = "merchant-secret"
    settings.QPAY_INVOICE_CODE = "TEST_INVOICE"
    cache.delete("payments:qpay:token")
    yield server
    cache.delete("payments:qpay:token")
    server.stop()


@pytest.fixture
def stripe_api(settings):
    server = fake_stripe().start()
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    settings.STRIPE_CURRENCY = "eur"
    yield server
    server.stop()


@pytest.fixture
def klarna(settings):
    server = fake_klarna().start()
    settings.KLARNA_BASE_URL = server.url
    settings.KLARNA_USERNAME = "klarna-user"
    settings.KLARNA_PASSWORD = "klarna-password"
    yield server
    server.stop()


@pytest.fixture
def no_real_providers(settings):
    settings.QPAY_CLIENT_ID = settings.QPAY_CLIENT_SECRET = settings.QPAY_INVOICE_CODE = ""
    settings.STRIPE_SECRET_KEY = ""
    settings.KLARNA_USERNAME = settings.KLARNA_PASSWORD = ""
    settings.PAYMENTS_SANDBOX_ENABLED = True
    settings.QPAY_FALLBACK_TO_SANDBOX = True


# --- /API/Payments/ as an operator's tool calls it ---------------------------------------

API_KEY = "op_test_key_1234567890"


@pytest.fixture
def connector():
    # Online: a reservation is refused for an offline charger (before the driver pays).
    return ConnectorFactory(charge_point__identity="station42", charge_point__is_online=True, connector_id=1)


@pytest.fixture
def api(client, connector):
    ApiKey.objects.create(
        operator=connector.charge_point.site.operator, name="test", prefix=API_KEY[:8], key_hash=token_hash(API_KEY)
    )

    def post(path, body, headers=None):
        return client.post(
            f"/API/Payments/{path}",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_X_API_KEY=API_KEY,
            **(headers or {}),
        )

    return post


@pytest.fixture
def tag(connector):
    return IdTokenFactory(uid="tag1234")
