"""The benchmark's fleet in the CSMS database, run by run.py before each run:

    DJANGO_SETTINGS_MODULE=bench.ocpp_load.settings python -m bench.ocpp_load.fleet_setup --count 1000

Chargers BENCH-0 .. BENCH-<count+1> (0 is the probe, count+1 answers the command
round trip) on one site of a bench operator, each made by chargepoints.services.
charge_point_add with its password (fleet.password) and one connector, and an accepted
id token per charger (fleet.id_tag). Chargers left from an earlier run are kept; one
without a password (the old bare bench) gets one. Prints the operator's API key (JSON).

--warm (a database an earlier run used): the previous run's samples and journal are
TRUNCATEd, its open sessions closed, and the charger, connector and session tables
vacuumed and analysed, as in every earlier pass of this bench. Without it nothing is
analysed: a fresh database is measured as a deployment's first hour sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.ocpp_load.settings")

import django  # noqa: E402

django.setup()

import fleet  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Operator  # noqa: E402
from accounts.services import api_key_create  # noqa: E402
from chargepoints import charger_secrets  # noqa: E402
from chargepoints.models import ChargePoint, Connector, Evse, IdToken, OcppMessage, Site  # noqa: E402
from chargepoints.services import charge_point_add  # noqa: E402
from sessions_app.models import ChargeSession, MeterSample  # noqa: E402

PREFIX = "BENCH-"


def _site() -> Site:
    operator, _ = Operator.objects.get_or_create(slug="bench", defaults={"name": "Bench operator"})
    site, _ = Site.objects.get_or_create(
        operator=operator, name="Bench site", defaults={"latitude": 47.0, "longitude": 8.0}
    )
    return site


@transaction.atomic
def chargers_ensure(count: int, site: Site) -> int:
    """Create the missing chargers (with password and connector); returns how many."""
    have = dict(ChargePoint.objects.filter(identity__startswith=PREFIX).values_list("identity", "password_hash"))
    made = 0
    for index in range(0, count + 2):
        identity = f"{PREFIX}{index}"
        if identity not in have:
            charge_point_add(identity=identity, password=fleet.password(index), site=site, connector_count=1)
            made += 1
        elif not have[identity]:
            ChargePoint.objects.filter(identity=identity).update(
                password_hash=charger_secrets.make_hash(fleet.password(index)), site=site
            )
    # Chargers of the old bare bench had no site and an EVSE made by hand: the site is set
    # so the operator's key reaches them.
    ChargePoint.objects.filter(identity__startswith=PREFIX, site__isnull=True).update(site=site)
    missing = ChargePoint.objects.filter(identity__startswith=PREFIX, evses__isnull=True)
    for charge_point in missing:
        evse = Evse.objects.create(charge_point=charge_point, evse_id=1)
        Connector.objects.create(charge_point=charge_point, evse=evse, connector_id=1)
    return made


def id_tokens_ensure(count: int) -> None:
    wanted = {fleet.id_tag(index) for index in range(0, count + 2)}
    have = set(IdToken.objects.filter(uid__in=wanted).values_list("uid", flat=True))
    IdToken.objects.bulk_create([IdToken(uid=uid, name="bench") for uid in sorted(wanted - have)], batch_size=1000)


def warm_reset() -> None:
    ChargeSession.objects.filter(charge_point__identity__startswith=PREFIX, status=ChargeSession.Status.ACTIVE).update(
        status=ChargeSession.Status.COMPLETED, stopped_at=timezone.now(), meter_stop_wh=F("meter_last_wh")
    )
    if connection.vendor != "postgresql":
        MeterSample.objects.all().delete()
        OcppMessage.objects.all().delete()
        return
    with connection.cursor() as cursor:
        # TRUNCATE, not DELETE: millions of dead rows from earlier runs made each run slower
        # than the last while autovacuum caught up.
        cursor.execute("TRUNCATE sessions_app_metersample, chargepoints_ocppmessage")
        for table in ("chargepoints_chargepoint", "chargepoints_connector", "sessions_app_chargesession"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE the whole database after the set-up")
    args = parser.parse_args()
    site = _site()
    made = chargers_ensure(args.count, site)
    id_tokens_ensure(args.count)
    if args.warm:
        warm_reset()
    if args.analyze and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    _, key = api_key_create(operator=site.operator, name="bench")
    print(json.dumps({"made": made, "api_key": key, "vendor": connection.vendor}))


if __name__ == "__main__":
    main()
