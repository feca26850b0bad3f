"""Tariffs page: the price curve of a local day, CSV import and month generation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tariffs.models import ElectricityPrice

pytestmark = pytest.mark.django_db


def test_the_curve_is_the_local_day_of_the_site(alpha_client, world):
    # 2025-03-30 is the spring-forward day in Europe/Amsterdam: 23 hours.
    start = datetime(2025, 3, 29, 23, tzinfo=UTC)  # local midnight
    for hour in range(25):
        ElectricityPrice.objects.create(starts_at=start + timedelta(hours=hour), price_per_kwh=Decimal("0.1") + hour)
    site = world["alpha"][1]
    response = alpha_client.get(f"/tariffs/?site={site.pk}&day=2025-03-30")
    curve = response.context["curve"]
    assert len(curve) == 23
    assert curve[0]["hour"] == "00:00" and curve[2]["hour"] == "03:00"
    assert b"a daylight-saving day" in response.content


def test_staff_without_the_permission_cannot_import(alpha_client):
    upload = SimpleUploadedFile("p.csv", b"timestamp,price_per_kwh,currency\n2025-01-01T00:00:00Z,0.1,EUR\n")
    assert alpha_client.post("/tariffs/import/", {"file": upload}).status_code == 403
    assert alpha_client.post("/tariffs/generate/", {"month": "2025-01"}).status_code == 403
    assert b"Import prices from CSV" not in alpha_client.get("/tariffs/").content


def test_an_import_is_reported(admin_client_all):
    upload = SimpleUploadedFile(
        "p.csv", b"timestamp,price_per_kwh,currency\n2025-01-01T00:00:00Z,0.1,EUR\n2025-01-01T01:00:00Z,0.2,EUR\n"
    )
    page = admin_client_all.post(
        "/tariffs/import/", {"file": upload, "market": "default"}, follow=True
    ).content.decode()
    assert "Imported 2 rows: 2 new hours" in page
    assert ElectricityPrice.objects.filter(source="imported").count() == 2


def test_a_bad_import_writes_nothing_and_says_where(admin_client_all):
    upload = SimpleUploadedFile("p.csv", b"timestamp,price_per_kwh,currency\n2025-01-01T00:00:00Z,abc,EUR\n")
    page = admin_client_all.post("/tariffs/import/", {"file": upload}, follow=True).content.decode()
    assert "Nothing was imported" in page and "line 2" in page
    assert not ElectricityPrice.objects.exists()


def test_generating_a_month(admin_client_all):
    page = admin_client_all.post(
        "/tariffs/generate/", {"month": "2025-02", "market": "default"}, follow=True
    ).content.decode()
    assert "Generated 672 hourly prices for February 2025" in page
    assert ElectricityPrice.objects.count() == 672
