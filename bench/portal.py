"""Operator portal page times and query counts at scale.

    .venv/bin/python bench/portal.py [--chargers 1000] [--sessions 100000] [--runs 5] [--keep]

Creates a scratch database (the test database of the current settings: SQLite file under
var/, or test_<name>_<pid> on PostgreSQL with DATABASE_URL set), seeds it with bulk
inserts, then requests every portal page with Django's test client as an operator's staff
member and as a superuser, printing the median time and the number of queries per page.
The scratch database is dropped afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("CSMS_TEST_RUN_ID", f"bench{os.getpid()}")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

BATCH = 5000


def seed(*, chargers: int, sessions: int, frames: int, drivers: int) -> dict:
    from django.contrib.auth.hashers import make_password

    from accounts.models import Operator, User
    from billing.models import Purchase, PurchaseLine, Wallet, WalletEntry
    from chargepoints.models import ChargePoint, Connector, Evse, OcppMessage, Site
    from payments.models import Payment
    from sessions_app.models import ChargeSession, MeterSample
    from tariffs.models import ElectricityPrice, Tariff

    rng = random.Random(42)
    now = timezone.now().replace(microsecond=0)
    operator = Operator.objects.create(name="Bench Charging", slug="bench")
    other = Operator.objects.create(name="Other Operator", slug="other")
    password = make_password("bench-password")
    staff = User.objects.create(username="bench-staff", is_staff=True, operator=operator, password=password)
    root = User.objects.create(username="bench-root", is_staff=True, is_superuser=True, password=password)
    Tariff.objects.create(
        operator=operator, name="Standard", energy_price_per_kwh=Decimal("0.30"), vat_percent=Decimal("21")
    )

    sites = Site.objects.bulk_create(
        [
            Site(
                operator=operator if i < 45 else other,
                name=f"Site {i}",
                latitude=Decimal("52.0") + Decimal(rng.randint(0, 90000)) / 100000,
                longitude=Decimal("4.5") + Decimal(rng.randint(0, 150000)) / 100000,
                time_zone="Europe/Amsterdam",
            )
            for i in range(50)
        ]
    )
    statuses = ["Available"] * 6 + ["Charging"] * 3 + ["Faulted", "Unavailable"]
    cps = ChargePoint.objects.bulk_create(
        [
            ChargePoint(
                identity=f"BENCH-{i:05d}",
                site=sites[i % 50],
                name=f"Charger {i}",
                vendor="Bench",
                model="B-22",
                protocol="ocpp1.6",
                is_online=rng.random() < 0.9,
                last_seen_at=now,
            )
            for i in range(chargers)
        ],
        batch_size=BATCH,
    )
    evses = Evse.objects.bulk_create([Evse(charge_point=cp, evse_id=n) for cp in cps for n in (1, 2)], batch_size=BATCH)
    connectors = Connector.objects.bulk_create(
        [
            Connector(
                charge_point_id=evse.charge_point_id,
                evse=evse,
                connector_id=evse.evse_id,
                status=rng.choice(statuses),
                power_w=rng.randint(0, 22000),
            )
            for evse in evses
        ],
        batch_size=BATCH,
    )

    users = User.objects.bulk_create(
        [User(username=f"+3162{i:07d}", phone=f"+3162{i:07d}", name=f"Driver {i}") for i in range(drivers)],
        batch_size=BATCH,
    )
    wallets = Wallet.objects.bulk_create([Wallet(user=u) for u in users], batch_size=BATCH)
    WalletEntry.objects.bulk_create(
        [
            WalletEntry(wallet=w, kind="top_up", amount=Decimal("50.00"), idempotency_key=f"bench-{w.pk}")
            for w in wallets
        ],
        batch_size=BATCH,
    )

    # Sessions spread over a year; the newest on some connectors are still active.
    active_connectors = set(rng.sample(range(len(connectors)), k=min(300, len(connectors))))
    rows = []
    for i in range(sessions):
        connector = connectors[i % len(connectors)]
        # 50 sessions per connector over ~90 days: a third of them inside the 30-day charts.
        age = timedelta(seconds=(i // len(connectors)) * 3600 * 43 + rng.randint(0, 3000))
        started = now - age - timedelta(minutes=10)
        active = age.total_seconds() < 3600 and (i % len(connectors)) in active_connectors
        energy = rng.randint(2000, 40000)
        rows.append(
            ChargeSession(
                charge_point_id=connector.charge_point_id,
                connector=connector,
                user=users[i % len(users)],
                transaction_id=str(i + 1),
                started_at=started,
                meter_start_wh=0,
                status="active" if active else "completed",
                stopped_at=None if active else started + timedelta(minutes=50),
                meter_stop_wh=None if active else energy,
                meter_last_wh=energy,
                power_w=rng.randint(0, 22000) if active else None,
                soc_percent=rng.randint(10, 90),
            )
        )
    created = ChargeSession.objects.bulk_create(rows, batch_size=BATCH)
    completed = [s for s in created if s.status == "completed"]
    purchases = Purchase.objects.bulk_create(
        [
            Purchase(
                session=s,
                user_id=s.user_id,
                energy_wh=s.meter_stop_wh,
                subtotal=Decimal("5.00"),
                vat_amount=Decimal("1.05"),
                total_price=Decimal("6.05"),
                status="paid",
                paid_at=s.stopped_at,
                created_at=s.stopped_at,
                payment_method="EVM",
            )
            for s in completed
        ],
        batch_size=BATCH,
    )
    PurchaseLine.objects.bulk_create(
        [
            PurchaseLine(
                purchase=p,
                kind="energy",
                description="Energy",
                quantity=Decimal("10"),
                unit="kWh",
                unit_price=Decimal("0.30"),
                amount=Decimal("3.00"),
            )
            for p in purchases
        ],
        batch_size=BATCH,
    )
    Payment.objects.bulk_create(
        [
            Payment(
                provider="wallet",
                purpose="purchase",
                purchase=p,
                user_id=p.user_id,
                amount=p.total_price,
                status="success",
                idempotency_key=f"bench-pay-{p.pk}",
                created_at=p.created_at,
            )
            for p in purchases
        ],
        batch_size=BATCH,
    )

    # One long session with a sample every 10 s for 4 hours (1,440 per measurand).
    chart_session = completed[0]
    samples = []
    for k in range(1440):
        at = chart_session.started_at + timedelta(seconds=10 * k)
        for measurand, value, unit in (
            ("Power.Active.Import", 11000, "W"),
            ("Energy.Active.Import.Register", 30 * k, "Wh"),
            ("SoC", 20 + k // 24, "Percent"),
        ):
            samples.append(
                MeterSample(
                    charge_point_id=chart_session.charge_point_id,
                    connector_id=chart_session.connector_id,
                    session=chart_session,
                    sampled_at=at,
                    measurand=measurand,
                    value=Decimal(value),
                    unit=unit,
                )
            )
    MeterSample.objects.bulk_create(samples, batch_size=BATCH)

    actions = ["Heartbeat", "StatusNotification", "MeterValues", "BootNotification"]
    OcppMessage.objects.bulk_create(
        [
            OcppMessage(
                charge_point=cps[i % len(cps)],
                charge_point_identity=cps[i % len(cps)].identity,
                direction="in",
                message_type=2,
                unique_id=f"m{i}",
                action=actions[i % 4],
                payload={"connectorId": 1, "n": i},
                created_at=now - timedelta(seconds=frames - i),
            )
            for i in range(frames)
        ],
        batch_size=BATCH,
    )

    ElectricityPrice.objects.bulk_create(
        [
            ElectricityPrice(
                starts_at=(now - timedelta(days=20)).replace(minute=0, second=0) + timedelta(hours=h),
                price_per_kwh=Decimal("0.10") + Decimal(h % 24) / 100,
            )
            for h in range(24 * 40)
        ],
        batch_size=BATCH,
    )
    return {
        "staff": staff,
        "root": root,
        "charger": cps[0].identity,
        "session": chart_session.pk,
        "wallet": wallets[0].pk,
    }


def measure(client: Client, url: str, runs: int) -> tuple[float, float, int, int]:
    started = time.perf_counter()
    client.get(url)  # the first request: cold caches (templates, the dashboard's finished days)
    first = (time.perf_counter() - started) * 1000
    times = []
    queries = 0
    status = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
        status = response.status_code
    return first, statistics.median(times), queries, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--drivers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print(f"creating scratch database ({connection.vendor})…", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        data = seed(chargers=args.chargers, sessions=args.sessions, frames=args.frames, drivers=args.drivers)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(
            f"seeded {args.chargers} chargers, {2 * args.chargers} connectors, {args.sessions} sessions "
            f"(+ purchases, lines, payments), {args.frames} journal frames, {args.drivers} drivers/wallets "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        pages = [
            ("dashboard", "/"),
            ("dashboard live fragment", "/dashboard/live/"),
            ("map", "/map/"),
            ("chargers", "/chargers/"),
            ("chargers, page 10", "/chargers/?page=10"),
            ("chargers, faulted", "/chargers/?status=faulted"),
            ("charger detail", f"/chargers/{data['charger']}/"),
            ("charger live fragment", f"/chargers/{data['charger']}/live/"),
            ("sessions", "/sessions/"),
            ("sessions, page 500", "/sessions/?page=500"),
            ("sessions, active", "/sessions/?status=active"),
            ("session detail (4,320 samples)", f"/sessions/{data['session']}/"),
            ("tariffs", "/tariffs/"),
            ("drivers", "/drivers/"),
            ("drivers, search", "/drivers/?q=Driver 99"),
            ("purchases", "/purchases/"),
            ("payments", "/payments/"),
            ("wallets", "/wallets/"),
            ("wallet detail", f"/wallets/{data['wallet']}/"),
            ("journal", "/journal/"),
            ("journal, one charger", f"/journal/?identity={data['charger']}"),
            ("journal, action", "/journal/?action=BootNotification"),
            ("journal, text in one charger", f"/journal/?identity={data['charger']}&text=connectorId"),
        ]
        print(
            f"\nmachine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"database {connection.vendor}; median of {args.runs} requests; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        )
        # One anonymous request first, so that "first ms" of the first page measures its
        # cold caches (templates, the dashboard's finished days), not the process warming up
        # (URL conf, middleware, template engine, database connection: ~400 ms).
        started = time.perf_counter()
        Client().get("/accounts/login/")
        print(
            f"process warm-up (GET /accounts/login/, not counted below): {(time.perf_counter() - started) * 1000:.0f} ms\n"
        )
        for who in ("staff", "root"):
            client = Client()
            client.force_login(data[who])
            label = "operator staff (scoped to 90% of the chargers)" if who == "staff" else "superuser (everything)"
            print(f"{label}")
            print(f"  {'page':36} {'first ms':>9} {'median ms':>10} {'queries':>8} {'status':>7}")
            for name, url in pages:
                first, ms, queries, status = measure(client, url, args.runs)
                print(f"  {name:36} {first:9.1f} {ms:10.1f} {queries:8d} {status:7d}", flush=True)
            print()
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if args.keep:
            print(f"kept scratch database {connection.settings_dict['NAME']}")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
