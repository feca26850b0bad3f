"""How long pricing one charge session with 10,000 meter samples takes.

    .venv/bin/python bench/pricing.py [--samples 10000] [--runs 7]

Runs against a throwaway in-memory SQLite database (migrated at start), with a dynamic
tariff so every hour needs its own price. Prints the median of several runs of the full
`price_session` (loading samples, states and prices from the database, then pricing) and of
the pure pricing step alone, plus one `purchase_create_for_session` (pricing + storing lines).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = "sqlite://:memory:"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _setup():
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _session(samples: int, every_seconds: int):
    from accounts.models import Operator
    from chargepoints.models import ChargePoint, Connector, Evse, Site
    from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample
    from tariffs.models import Tariff, TariffAssignment
    from tariffs.services import electricity_prices_generate

    start = datetime(2025, 10, 25, 20, 0, 7, tzinfo=UTC)
    operator = Operator.objects.create(name="Bench", slug="bench")
    site = Site.objects.create(operator=operator, name="Bench", latitude=52, longitude=4, time_zone="Europe/Amsterdam")
    charge_point = ChargePoint.objects.create(identity="BENCH1", site=site)
    evse = Evse.objects.create(charge_point=charge_point, evse_id=1)
    connector = Connector.objects.create(charge_point=charge_point, evse=evse, connector_id=1)
    tariff = Tariff.objects.create(
        operator=operator,
        name="Dynamic",
        kind=Tariff.Kind.DYNAMIC,
        markup_per_kwh=Decimal("0.08"),
        vat_percent=Decimal("21"),
        session_fee=Decimal("0.35"),
        idle_fee_per_minute=Decimal("0.10"),
        idle_grace_minutes=30,
    )
    TariffAssignment.objects.create(tariff=tariff, site=site, valid_from=start - timedelta(days=1))
    for month in (datetime(2025, 10, 1), datetime(2025, 11, 1)):
        electricity_prices_generate(month_start=month.date(), seed="bench")
    end = start + timedelta(seconds=every_seconds * (samples + 1))
    session = ChargeSession.objects.create(
        charge_point=charge_point,
        connector=connector,
        started_at=start,
        stopped_at=end + timedelta(minutes=45),
        meter_start_wh=1_234_567,
        meter_stop_wh=1_234_567 + 7 * (samples + 1),
        status="completed",
        transaction_id="1",
    )
    MeterSample.objects.bulk_create(
        [
            MeterSample(
                charge_point=charge_point,
                connector=connector,
                session=session,
                sampled_at=start + timedelta(seconds=every_seconds * (i + 1)),
                value=Decimal(1_234_567 + 7 * (i + 1)) / 1000,
                unit="kWh",
            )
            for i in range(samples)
        ],
        batch_size=2000,
    )
    ChargingStateChange.objects.bulk_create(
        [
            ChargingStateChange(session=session, at=start, charging_state="Charging"),
            ChargingStateChange(session=session, at=end, charging_state="EVConnected"),
        ]
    )
    return session


def _median_ms(fn, runs: int) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=10, help="Seconds between samples")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    _setup()
    from billing.pricing import (
        electricity_prices_for_hours,
        price_readings,
        price_session,
        session_readings,
        tariff_for_charge_point,
    )
    from billing.services import purchase_create_for_session

    session = _session(args.samples, args.every)
    priced = price_session(session=session)
    full = _median_ms(lambda: price_session(session=session), args.runs)

    tariff = tariff_for_charge_point(charge_point=session.charge_point, at=session.started_at)
    readings = session_readings(session=session, ended_at=session.stopped_at)
    prices = electricity_prices_for_hours(market=tariff.market, start=session.started_at, end=session.stopped_at)
    states = list(session.state_changes.values_list("at", "charging_state"))
    pure = _median_ms(
        lambda: price_readings(
            tariff=tariff,
            readings=readings,
            states=states,
            started_at=session.started_at,
            ended_at=session.stopped_at,
            hourly_prices=prices,
            time_zone="Europe/Amsterdam",
        ),
        args.runs,
    )
    began = time.perf_counter()
    purchase = purchase_create_for_session(session_id=session.pk)
    store = (time.perf_counter() - began) * 1000

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite in memory"
    )
    print(
        f"session: {args.samples} samples every {args.every} s over {(session.stopped_at - session.started_at)}, "
        f"{len([line for line in priced.lines if line.kind == 'energy'])} hourly energy lines, "
        f"{priced.energy_wh} Wh, total {priced.total} {priced.currency}"
    )
    print(f"price_session (load + price), median of {args.runs}: {full:.1f} ms")
    print(f"pricing alone (no database), median of {args.runs}: {pure:.1f} ms")
    print(f"purchase_create_for_session (price + store {purchase.lines.count()} lines), once: {store:.1f} ms")


if __name__ == "__main__":
    main()
