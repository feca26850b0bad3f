from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import Purchase, Wallet, WalletEntry
from billing.services import purchase_create_for_session
from tariffs.models import ElectricityPrice
from tests.billing.factories import assign, make_charge_point, make_session, make_tariff, make_user

pytestmark = pytest.mark.django_db


def test_the_price_changelist_links_to_import_and_generate(admin_client):
    response = admin_client.get(reverse("admin:tariffs_electricityprice_changelist"))
    assert response.status_code == 200
    assert reverse("admin:tariffs_electricityprice_import").encode() in response.content
    assert reverse("admin:tariffs_electricityprice_generate").encode() in response.content


def test_the_admin_imports_a_csv(admin_client):
    upload = SimpleUploadedFile("prices.csv", b"timestamp,price_per_mwh,currency\n2025-02-01T00:00:00Z,70,EUR\n")
    response = admin_client.post(reverse("admin:tariffs_electricityprice_import"), {"file": upload, "market": "NL"})
    assert response.status_code == 302
    assert ElectricityPrice.objects.get(market="NL").price_per_kwh == Decimal("0.07")


def test_the_admin_shows_row_errors_and_imports_nothing(admin_client):
    upload = SimpleUploadedFile(
        "prices.csv", b"timestamp,price_per_mwh,currency\n2025-02-01T00:00:00Z,70,EUR\nbad,1,EUR\n"
    )
    response = admin_client.post(reverse("admin:tariffs_electricityprice_import"), {"file": upload, "market": "NL"})
    assert response.status_code == 200
    assert b"line 3" in response.content
    assert ElectricityPrice.objects.count() == 0


def test_the_admin_generates_a_month_and_refuses_a_bad_band(admin_client):
    url = reverse("admin:tariffs_electricityprice_generate")
    response = admin_client.post(url, {"month": "2025-02-10", "market": "default", "minimum": "0.3", "maximum": "0.1"})
    assert response.status_code == 200 and b"above the maximum" in response.content
    response = admin_client.post(url, {"month": "2025-02-10", "market": "default", "seed": "x"})
    assert response.status_code == 302
    assert ElectricityPrice.objects.count() == 28 * 24


def test_the_generate_action_fills_the_selected_months(admin_client):
    price = ElectricityPrice.objects.create(starts_at=datetime(2025, 2, 3, 4, tzinfo=UTC), price_per_kwh=Decimal("0.2"))
    response = admin_client.post(
        reverse("admin:tariffs_electricityprice_changelist"),
        {"action": "generate_months_of_selected", "_selected_action": [price.pk]},
    )
    assert response.status_code == 302
    assert ElectricityPrice.objects.count() == 28 * 24


def test_the_tariff_admin_rejects_an_unknown_currency(admin_client):
    operator = make_tariff().operator
    response = admin_client.post(
        reverse("admin:tariffs_tariff_add"),
        {
            "operator": operator.pk,
            "name": "Bad",
            "currency": "ABC",
            "kind": "fixed",
            "energy_price_per_kwh": "0.3",
            "market": "default",
            "markup_per_kwh": "0",
            "vat_percent": "21",
            "session_fee": "0",
            "idle_fee_per_minute": "0",
            "idle_grace_minutes": "0",
            "created_at_0": "2025-01-01",
            "created_at_1": "00:00:00",
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert b"ISO 4217" in response.content


def test_admin_pages_of_tariffs_and_billing_render(admin_client):
    charge_point = make_charge_point()
    assign(make_tariff(), site=charge_point.site, valid_from=datetime(2025, 1, 1, tzinfo=UTC))
    start = datetime(2025, 1, 2, tzinfo=UTC)
    purchase = purchase_create_for_session(
        session_id=make_session(
            charge_point=charge_point, started_at=start, stopped_at=start + timedelta(hours=1), meter_stop_wh=500
        ).pk,
    )
    wallet = Wallet.objects.create(user=make_user())
    WalletEntry.objects.create(wallet=wallet, kind="top_up", amount=Decimal("10.00"), idempotency_key="k1")
    WalletEntry.objects.create(wallet=wallet, kind="debit", amount=Decimal("-2.50"), idempotency_key="k2")
    for name in ("tariffs_tariff", "tariffs_tariffassignment", "billing_purchase", "billing_wallet"):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    page = admin_client.get(reverse("admin:billing_purchase_change", args=[purchase.pk]))
    assert page.status_code == 200 and b"Energy 2025-01-02 00:00" in page.content
    wallets = admin_client.get(reverse("admin:billing_wallet_changelist"))
    assert b"7.50" in wallets.content
    response = admin_client.post(
        reverse("admin:billing_purchase_changelist"),
        {"action": "reprice_selected", "_selected_action": [purchase.pk]},
    )
    assert response.status_code == 302
    assert Purchase.objects.get(pk=purchase.pk).total_price == Decimal("0.15")
