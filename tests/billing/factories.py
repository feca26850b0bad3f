"""Builders for tariff and billing tests: keyword helpers over the factory_boy factories
in tests/factories.py (one factory style), with the defaults these tests read by hand
(UTC sites, one connector per charger, sessions by start and stop)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from accounts.models import Operator, User
from chargepoints.models import ChargePoint, Site
from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample
from tariffs.models import Tariff, TariffAssignment
from tests.factories import (
    ChargePointFactory,
    ChargeSessionFactory,
    ConnectorFactory,
    DriverFactory,
    OperatorFactory,
    SiteFactory,
    TariffFactory,
)


def make_operator() -> Operator:
    return OperatorFactory()


def make_site(*, operator: Operator | None = None, time_zone: str = "UTC") -> Site:
    return SiteFactory(
        operator=operator or OperatorFactory(),
        latitude=Decimal("52.37"),
        longitude=Decimal("4.89"),
        time_zone=time_zone,
    )


def make_charge_point(*, site: Site | None = None, time_zone: str = "UTC") -> ChargePoint:
    charge_point = ChargePointFactory(site=site or make_site(time_zone=time_zone))
    ConnectorFactory(charge_point=charge_point, connector_id=1)
    return charge_point


def make_tariff(*, operator: Operator | None = None, **fields) -> Tariff:
    return TariffFactory(operator=operator or OperatorFactory(), **fields)


def assign(tariff: Tariff, *, site=None, charge_point=None, valid_from: datetime) -> TariffAssignment:
    return TariffAssignment.objects.create(tariff=tariff, site=site, charge_point=charge_point, valid_from=valid_from)


def make_user() -> User:
    return DriverFactory()


def make_session(
    *,
    charge_point: ChargePoint,
    started_at: datetime,
    stopped_at: datetime | None = None,
    meter_start_wh: int = 0,
    meter_stop_wh: int | None = None,
    user: User | None = None,
) -> ChargeSession:
    return ChargeSessionFactory(
        connector=charge_point.connectors.first(),
        user=user,
        started_at=started_at,
        stopped_at=stopped_at,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        status=ChargeSession.Status.COMPLETED if stopped_at else ChargeSession.Status.ACTIVE,
    )


def add_sample(
    session: ChargeSession,
    at: datetime,
    value,
    *,
    unit: str = "Wh",
    phase: str = "",
    measurand: str = "Energy.Active.Import.Register",
) -> MeterSample:
    """Store a reading as the OCPP side does: a second reading with the same key (session,
    measurand, time, phase, location, context) is a replay and is skipped."""
    sample = MeterSample(
        charge_point=session.charge_point,
        connector=session.connector,
        session=session,
        sampled_at=at,
        measurand=measurand,
        phase=phase,
        value=Decimal(str(value)),
        unit=unit,
    )
    MeterSample.objects.bulk_create([sample], ignore_conflicts=True)
    return sample


def add_state(session: ChargeSession, at: datetime, state: str) -> ChargingStateChange:
    return ChargingStateChange.objects.create(session=session, at=at, charging_state=state)
