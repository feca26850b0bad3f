from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from tariffs.models import ElectricityPrice
from tariffs.selectors import (
    PriceUnavailable,
    electricity_price_current,
    electricity_price_list,
    local_day_bounds,
)
from tariffs.services import electricity_prices_generate, electricity_prices_import_csv
from tariffs.tasks import ensure_upcoming_prices

pytestmark = pytest.mark.django_db


def test_it_generates_one_price_per_hour_of_the_month_within_the_band():
    created = electricity_prices_generate(month_start=date(2025, 2, 1), minimum="0.10", maximum="0.20", seed="demo")
    assert created == 28 * 24
    prices = list(ElectricityPrice.objects.filter(market="default").values_list("starts_at", "price_per_kwh"))
    assert prices[0][0] == datetime(2025, 2, 1, tzinfo=UTC)
    assert prices[-1][0] == datetime(2025, 2, 28, 23, tzinfo=UTC)
    assert all(Decimal("0.10") <= price <= Decimal("0.20") for _, price in prices)


def test_generation_is_idempotent_and_keeps_existing_hours():
    hour = datetime(2025, 3, 5, 12, tzinfo=UTC)
    ElectricityPrice.objects.create(starts_at=hour, price_per_kwh=Decimal("9.9"), source="manual")
    created = electricity_prices_generate(month_start=date(2025, 3, 1), seed=1)
    assert created == 31 * 24 - 1
    assert electricity_prices_generate(month_start=date(2025, 3, 1), seed=1) == 0
    assert ElectricityPrice.objects.get(starts_at=hour).price_per_kwh == Decimal("9.9")


def test_a_seed_makes_generated_prices_reproducible():
    electricity_prices_generate(month_start=date(2025, 4, 1), market="a", seed="s")
    electricity_prices_generate(month_start=date(2025, 4, 1), market="b", seed="s")
    electricity_prices_generate(month_start=date(2025, 4, 1), market="c", seed="other")
    a = list(ElectricityPrice.objects.filter(market="a").values_list("price_per_kwh", flat=True))
    b = list(ElectricityPrice.objects.filter(market="b").values_list("price_per_kwh", flat=True))
    c = list(ElectricityPrice.objects.filter(market="c").values_list("price_per_kwh", flat=True))
    # Same seed, same month: the market name is part of the stream, so a and b differ
    # from each other, and generating "a" again elsewhere repeats it exactly.
    ElectricityPrice.objects.filter(market="a").delete()
    electricity_prices_generate(month_start=date(2025, 4, 1), market="a", seed="s")
    assert list(ElectricityPrice.objects.filter(market="a").values_list("price_per_kwh", flat=True)) == a
    assert a != b and a != c


@pytest.mark.parametrize("band", [("-0.1", "0.2"), ("0.3", "0.2"), ("x", "0.2")])
def test_generation_rejects_a_bad_band(band):
    with pytest.raises(ValidationError):
        electricity_prices_generate(month_start=date(2025, 1, 1), minimum=band[0], maximum=band[1])


def test_generation_rejects_an_unknown_currency(settings):
    settings.PRICE_CURRENCY = "XXY"
    with pytest.raises(ValidationError, match="XXY"):
        electricity_prices_generate(month_start=date(2025, 1, 1))


@time_machine.travel(datetime(2025, 6, 15, 10, 30, tzinfo=UTC), tick=False)
def test_the_current_price_generates_the_month_when_missing():
    price = electricity_price_current()
    assert price.starts_at == datetime(2025, 6, 15, 10, tzinfo=UTC)
    assert ElectricityPrice.objects.count() == 30 * 24


def test_the_current_price_fails_clearly_when_generation_is_off(settings):
    settings.TARIFFS_GENERATE_MISSING_PRICES = False
    with pytest.raises(PriceUnavailable, match="import"):
        electricity_price_current(at=datetime(2025, 6, 15, 10, tzinfo=UTC))


@time_machine.travel(datetime(2025, 12, 20, tzinfo=UTC), tick=False)
def test_the_beat_job_keeps_this_and_next_month_in_place():
    assert ensure_upcoming_prices() == (31 + 31) * 24
    assert ensure_upcoming_prices() == 0
    assert ElectricityPrice.objects.filter(starts_at__year=2026, starts_at__month=1).count() == 31 * 24


def test_the_price_list_is_ordered_by_date():
    for hour in (5, 1, 3):
        ElectricityPrice.objects.create(starts_at=datetime(2025, 1, 1, hour, tzinfo=UTC), price_per_kwh=Decimal(hour))
    assert [p.starts_at.hour for p in electricity_price_list()] == [1, 3, 5]


@pytest.mark.parametrize(("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25), (date(2025, 6, 1), 24)])
def test_a_local_day_in_amsterdam_has_23_24_or_25_hours(day, hours):
    # A local day starts the UTC evening before: generate that month too.
    electricity_prices_generate(month_start=day - timedelta(days=1), seed=1)
    electricity_prices_generate(month_start=day, seed=1)
    start, end = local_day_bounds(day=day, time_zone="Europe/Amsterdam")
    assert end - start == timedelta(hours=hours)
    prices = list(electricity_price_list(day=day, time_zone="Europe/Amsterdam"))
    assert len(prices) == hours
    assert prices[0].starts_at == start  # local midnight, in UTC


# --- CSV import ------------------------------------------------------------------------


def test_it_imports_prices_per_mwh_and_converts_to_kwh():
    csv_text = (
        "timestamp,price_per_mwh,currency\n"
        "2025-03-30T00:00:00+01:00,85.50,EUR\n"
        "2025-03-30T01:00:00+01:00,-0,EUR\n"
        "2025-03-30T03:00:00+02:00,101.25,EUR\n"  # the hour after the spring-forward gap
    )
    result = electricity_prices_import_csv(file=io.StringIO(csv_text))
    assert result.ok and (result.created, result.updated, result.rows) == (3, 0, 3)
    prices = list(electricity_price_list())
    assert [p.starts_at for p in prices] == [
        datetime(2025, 3, 29, 23, tzinfo=UTC),
        datetime(2025, 3, 30, 0, tzinfo=UTC),
        datetime(2025, 3, 30, 1, tzinfo=UTC),
    ]
    assert prices[0].price_per_kwh == Decimal("0.0855")
    assert {p.source for p in prices} == {"imported"}


def test_an_import_overwrites_generated_hours():
    electricity_prices_generate(month_start=date(2025, 5, 1), seed=1)
    result = electricity_prices_import_csv(
        file=io.BytesIO(b"time;price;unit;currency\n2025-05-01T00:00:00Z;0,12;kWh;EUR\n"),
    )
    assert result.ok and (result.created, result.updated) == (0, 1)
    price = ElectricityPrice.objects.get(starts_at=datetime(2025, 5, 1, tzinfo=UTC))
    assert (price.price_per_kwh, price.source) == (Decimal("0.12"), "imported")


def test_naive_timestamps_need_a_time_zone_and_then_use_it():
    csv_text = "timestamp,price_per_kwh\n2025-10-26 01:00,0.2\n"
    result = electricity_prices_import_csv(file=io.StringIO(csv_text), currency="EUR")
    assert not result.ok and "no UTC offset" in str(result.errors[0])
    result = electricity_prices_import_csv(file=io.StringIO(csv_text), currency="EUR", time_zone="Europe/Amsterdam")
    assert result.ok
    assert ElectricityPrice.objects.get().starts_at == datetime(2025, 10, 25, 23, tzinfo=UTC)


def test_bad_rows_are_reported_by_line_and_nothing_is_imported():
    csv_text = (
        "timestamp,price_per_mwh,currency\n"
        "2025-01-01T00:00:00Z,50,EUR\n"
        "not a date,50,EUR\n"
        "2025-01-01T01:30:00Z,50,EUR\n"
        "2025-01-01T02:00:00Z,abc,EUR\n"
        "2025-01-01T03:00:00Z,-5,EUR\n"
        "2025-01-01T04:00:00Z,50,EURO\n"
        "2025-01-01T00:00:00Z,51,EUR\n"
    )
    result = electricity_prices_import_csv(file=io.StringIO(csv_text))
    assert not result.ok
    messages = {error.line: error.message for error in result.errors}
    assert set(messages) == {3, 4, 5, 6, 7, 8}
    assert "ISO 8601" in messages[3]
    assert "start of an hour" in messages[4]
    assert "not a number" in messages[5]
    assert "negative" in messages[6]
    assert "EURO" in messages[7]
    assert "already on line 2" in messages[8]
    assert ElectricityPrice.objects.count() == 0


@pytest.mark.parametrize(
    ("csv_text", "needle"),
    [
        ("", "empty"),
        ("price_per_mwh,currency\n1,EUR\n", "no timestamp column"),
        ("timestamp,value,currency\n2025-01-01T00:00Z,1,EUR\n", "no price column"),
        ("timestamp,price,currency\n2025-01-01T00:00Z,1,EUR\n", "unit"),
        ("timestamp,price_per_mwh\n2025-01-01T00:00Z,1\n", "currency"),
        ("timestamp,price_per_mwh,currency\n", "no rows"),
        ("timestamp,price_per_mwh,currency\n2025-01-01T00:00Z,1,EUR\n2025-01-01T01:00Z,1,USD\n", "mixes"),
    ],
)
def test_a_malformed_file_gets_a_clear_error(csv_text, needle):
    result = electricity_prices_import_csv(file=io.StringIO(csv_text))
    assert not result.ok
    assert needle in " ".join(str(error) for error in result.errors)


def test_the_management_commands_import_and_generate(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("timestamp,price_per_mwh,currency\n2025-07-01T00:00:00Z,80,EUR\n")
    out = io.StringIO()
    call_command("import_prices", str(path), "--market", "NL", stdout=out)
    assert "1 created" in out.getvalue()
    call_command("generate_prices", "--month", "2025-07", "--market", "NL", "--seed", "x", stdout=out)
    assert ElectricityPrice.objects.filter(market="NL").count() == 31 * 24
    assert ElectricityPrice.objects.get(
        market="NL", starts_at=datetime(2025, 7, 1, tzinfo=UTC)
    ).price_per_kwh == Decimal("0.08")


def test_the_import_command_fails_with_the_row_errors(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("timestamp,price_per_mwh,currency\nyesterday,80,EUR\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_prices", str(path), stdout=io.StringIO())
