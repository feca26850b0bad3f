"""Small builders for tariff and billing tests (plain functions: explicit over clever)."""
from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from accounts.models import Operator, User
from chargepoints.models import ChargePoint, Connector, Evse, Site
from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample
from tariffs.models import Tariff, TariffAssignment

_counter = itertools.count(1)


def make_operator() -> Operator:
    n = next(_counter)
    return Operator.objects.create(name=f"Operator {n}", slug=f"operator-{n}")


def make_site(*, operator: Operator | None = None, time_zone: str = "UTC") -> Site:
    n = next(_counter)
    return Site.objects.create(
        operator=operator or make_operator(), name=f"Site {n}", latitude=Decimal("52.37"),
        longitude=Decimal("4.89"), time_zone=time_zone,
    )


def make_charge_point(*, site: Site | None = None, time_zone: str = "UTC") -> ChargePoint:
    n = next(_counter)
    site = site or make_site(time_zone=time_zone)
    charge_point = ChargePoint.objects.create(identity=f"CP{n:04d}", site=site)
    evse = Evse.objects.create(charge_point=charge_point, evse_id=1)
    Connector.objects.create(charge_point=charge_point, evse=evse, connector_id=1)
    return charge_point


def make_tariff(*, operator: Operator | None = None, **fields) -> Tariff:
    n = next(_counter)
    fields.setdefault("name", f"Tariff {n}")
    fields.setdefault("energy_price_per_kwh", Decimal("0.30"))
    return Tariff.objects.create(operator=operator or make_operator(), **fields)


def assign(tariff: Tariff, *, site=None, charge_point=None, valid_from: datetime) -> TariffAssignment:
    return TariffAssignment.objects.create(tariff=tariff, site=site, charge_point=charge_point, valid_from=valid_from)


def make_user() -> User:
    n = next(_counter)
    return User.objects.create_user(f"driver{n}", phone=f"+3161234{n:04d}")


def make_session(
    *,
    charge_point: ChargePoint,
    started_at: datetime,
    stopped_at: datetime | None = None,
    meter_start_wh: int = 0,
    meter_stop_wh: int | None = None,
    user: User | None = None,
) -> ChargeSession:
    connector = charge_point.connectors.first()
    return ChargeSession.objects.create(
        charge_point=charge_point, connector=connector, user=user, started_at=started_at,
        stopped_at=stopped_at, meter_start_wh=meter_start_wh, meter_stop_wh=meter_stop_wh,
        status=ChargeSession.Status.COMPLETED if stopped_at else ChargeSession.Status.ACTIVE,
        transaction_id=str(next(_counter)),
    )


def add_sample(
    session: ChargeSession, at: datetime, value, *, unit: str = "Wh", phase: str = "",
    measurand: str = "Energy.Active.Import.Register",
) -> MeterSample:
    """Store a reading as the OCPP side does: a second reading with the same key (session,
    measurand, time, phase, location, context) is a replay and is skipped."""
    sample = MeterSample(
        charge_point=session.charge_point, connector=session.connector, session=session,
        sampled_at=at, measurand=measurand, phase=phase, value=Decimal(str(value)), unit=unit,
    )
    MeterSample.objects.bulk_create([sample], ignore_conflicts=True)
    return sample


def add_state(session: ChargeSession, at: datetime, state: str) -> ChargingStateChange:
    return ChargingStateChange.objects.create(session=session, at=at, charging_state=state)
