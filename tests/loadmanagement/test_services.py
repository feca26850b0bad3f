"""Load management's database halves: settings and their journal, the plan of a run (what
changed, lower limits apart from higher ones), the other limits in force, refusals and cars
drawing above their limit. The sending itself is covered end to end (test_e2e.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chargepoints.models import ChargePointEvent, ChargingProfile
from loadmanagement import profiles, services
from loadmanagement.models import ConnectorAllocation, LimitStatus, LoadSettingsChange, SiteLoadSettings, Strategy
from sessions_app.models import MeterSample
from tests.factories import ChargePointFactory, ChargeSessionFactory, ConnectorFactory, SiteFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    site = SiteFactory(grid_capacity_amps=32)
    SiteLoadSettings.objects.create(site=site, enabled=True, strategy=Strategy.EQUAL)
    return site


def running(site, **fields):
    """An active session on a connector of its own charger on `site`."""
    connector = ConnectorFactory(charge_point=ChargePointFactory(site=site))
    return ChargeSessionFactory(connector=connector, **fields)


def accepted(session, amps, *, minutes_ago: int = 10):
    return ConnectorAllocation.objects.create(
        connector=session.connector,
        session=session,
        limit_amps=Decimal(amps),
        status=LimitStatus.ACCEPTED,
        sent_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def fail_safe_taken(charge_point, amps):
    ChargingProfile.objects.create(
        charge_point=charge_point,
        profile_id=profiles.FAIL_SAFE_PROFILE_ID,
        stack_level=profiles.STACK_LEVEL,
        purpose=ChargingProfile.Purpose.TX_DEFAULT,
        kind=ChargingProfile.Kind.RELATIVE,
        charging_rate_unit="A",
        schedule={"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(amps)}]},
        status=ChargingProfile.Status.ACTIVE,
        source=profiles.SOURCE,
    )


def limits(plan) -> dict[int, Decimal]:
    return {c.session_pk: c.limit_amps for c in [*plan.lower, *plan.raise_]}


# --- the plan ------------------------------------------------------------------------------


def test_a_new_car_at_its_fail_safe_default_is_raised_only_after_the_others_are_lowered(site):
    first = running(site)
    accepted(first, 32)
    second = running(site)
    fail_safe_taken(second.charge_point, 4)
    plan = services.site_plan(site_id=site.pk)
    assert [(c.session_pk, c.limit_amps) for c in plan.lower] == [(first.pk, Decimal("16.0"))]
    assert [(c.session_pk, c.limit_amps) for c in plan.raise_] == [(second.pk, Decimal("16.0"))]


def test_a_car_whose_start_limit_is_unknown_is_lowered_first(site):
    second = running(site)
    plan = services.site_plan(site_id=site.pk)
    assert [c.session_pk for c in plan.lower] == [second.pk] and plan.raise_ == []


def test_an_unchanged_limit_is_not_sent_again(site):
    first, second = running(site), running(site)
    accepted(first, 16)
    accepted(second, 16)
    plan = services.site_plan(site_id=site.pk)
    assert plan.lower == [] and plan.raise_ == []


def test_the_lowest_limit_wins_over_an_operator_limit_in_force(site):
    limited, other = running(site), running(site)
    # /API/SetChargingLimit's daily limit of 10 A on the first car's connector.
    ChargingProfile.objects.create(
        charge_point=limited.charge_point,
        connector_id=limited.connector.connector_id,
        profile_id=1001,
        stack_level=1,
        purpose=ChargingProfile.Purpose.TX_DEFAULT,
        kind=ChargingProfile.Kind.RECURRING,
        recurrency_kind="Daily",
        charging_rate_unit="A",
        schedule={
            "duration": 86400,
            "startSchedule": "2020-01-01T00:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
        },
        status=ChargingProfile.Status.ACTIVE,
        source="api",
    )
    plan = services.site_plan(site_id=site.pk)
    assert limits(plan) == {limited.pk: Decimal("10.0"), other.pk: Decimal("22.0")}


def test_a_refusal_is_told_once_and_the_car_then_counts_at_its_maximum(site):
    refusing, other = running(site), running(site)
    refusing.connector.max_power_kw = Decimal("11.04")  # 16 A on three phases
    refusing.connector.save()
    plan = services.site_plan(site_id=site.pk)
    command = next(c for c in plan.lower if c.session_pk == refusing.pk)
    for _ in range(2):
        assert services.limit_outcome_record(command=command, answer="NotSupported") == LimitStatus.REJECTED
    events = ChargePointEvent.objects.filter(charge_point=refusing.charge_point, kind="load_limit_refused")
    assert events.count() == 1 and "NotSupported" in events.get().message
    accepted(other, 20)
    # 32 A less the 16 A the refusing charger may take; nothing is sent to it again.
    assert limits(services.site_plan(site_id=site.pk)) == {other.pk: Decimal("16.0")}


def test_the_site_draw_is_recorded_and_a_car_above_its_limit_is_flagged(site):
    session = running(site)
    accepted(session, 16)
    now = timezone.now()
    for phase, amps in (("L1", "19.5"), ("L2", "19.0"), ("L3", "18.8")):
        MeterSample.objects.create(
            charge_point=session.charge_point,
            connector=session.connector,
            session=session,
            sampled_at=now - timedelta(seconds=5),
            measurand="Current.Import",
            phase=phase,
            value=Decimal(amps),
            unit="A",
        )
    services.site_plan(site_id=site.pk)
    services.site_plan(site_id=site.pk)
    allocation = ConnectorAllocation.objects.get(session=session)
    assert allocation.draw_amps == [19.5, 19.0, 18.8] and allocation.over_limit_since is not None
    assert ChargePointEvent.objects.filter(kind="load_limit_exceeded").count() == 1
    sample = site.load_samples.first()
    assert sample.draw_amps == [19.5, 19.0, 18.8] and sample.capacity_amps == Decimal("32.0")


def test_a_one_phase_car_on_a_three_phase_connector_is_counted_on_its_phase(site):
    one_phase, three_phase = running(site), running(site)
    accepted(one_phase, 16)
    accepted(three_phase, 16)
    now = timezone.now()
    for phase, amps in (("L1", "15.9"), ("L2", "0.0"), ("L3", "0.0")):
        MeterSample.objects.create(
            charge_point=one_phase.charge_point,
            session=one_phase,
            sampled_at=now - timedelta(seconds=5),
            measurand="Current.Import",
            phase=phase,
            value=Decimal(amps),
            unit="A",
        )
    plan = services.site_plan(site_id=site.pk)
    # Sharing L1 only, each gets 16 A; the one-phase car takes no room on L2 and L3.
    assert limits(plan) == {}


def test_unused_strategy_gives_a_car_drawing_little_its_draw_plus_headroom(site, settings):
    SiteLoadSettings.objects.filter(site=site).update(strategy=Strategy.UNUSED)
    settings.LOADMANAGEMENT_UNUSED_AFTER_SECONDS = 180
    full, hungry = running(site), running(site)
    accepted(full, 16)
    accepted(hungry, 16)
    now = timezone.now()
    for seconds in (170, 120, 60, 5):
        for phase in ("L1", "L2", "L3"):
            MeterSample.objects.create(
                charge_point=full.charge_point,
                session=full,
                sampled_at=now - timedelta(seconds=seconds),
                measurand="Current.Import",
                phase=phase,
                value=Decimal("3.0"),
                unit="A",
            )
    plan = services.site_plan(site_id=site.pk, now=now)
    # 3 A + 2 A headroom is below the 6 A minimum: it keeps 6 A, the other gets the rest.
    assert limits(plan) == {full.pk: Decimal("6.0"), hungry.pk: Decimal("26.0")}


def test_a_session_that_ended_is_forgotten(site):
    session = running(site)
    accepted(session, 16)
    session.status, session.stopped_at = "completed", timezone.now()
    session.save()
    services.site_plan(site_id=site.pk)
    allocation = ConnectorAllocation.objects.get(connector=session.connector)
    assert allocation.session is None and allocation.limit_amps is None


def test_idle_connectors_keep_their_fail_safe_share_free(site):
    SiteLoadSettings.objects.filter(site=site).update(fail_safe_amps=Decimal("4"))
    ConnectorFactory(charge_point=ChargePointFactory(site=site))  # idle
    session = running(site)
    assert limits(services.site_plan(site_id=site.pk)) == {session.pk: Decimal("28.0")}


def test_an_unmanaged_site_is_left_alone(site):
    SiteLoadSettings.objects.filter(site=site).update(enabled=False)
    running(site)
    assert services.site_plan(site_id=site.pk) is None


# --- settings ------------------------------------------------------------------------------


def test_every_settings_change_is_journaled_with_who_and_where(site, django_capture_on_commit_callbacks):
    staff = StaffFactory()
    with django_capture_on_commit_callbacks():
        services.site_load_settings_update(
            site=site,
            changes={"capacity_amps": Decimal("25"), "strategy": Strategy.PRIORITY},
            actor=staff,
            source="portal",
        )
    change = LoadSettingsChange.objects.get()
    assert change.actor == staff and change.source == "portal"
    assert change.changes == {"capacity_amps": [None, "25.0"], "strategy": ["equal", "priority"]}
    services.site_load_settings_update(site=site, changes={"strategy": Strategy.PRIORITY}, source="api")
    assert LoadSettingsChange.objects.count() == 1  # nothing changed, nothing journaled


def test_bad_settings_are_refused_with_a_clear_message():
    site = SiteFactory(grid_capacity_amps=None)
    with pytest.raises(services.LoadSettingsError, match="capacity"):
        services.site_load_settings_update(site=site, changes={"enabled": True}, source="api")
    with pytest.raises(services.LoadSettingsError, match="safety_margin_amps"):
        services.site_load_settings_update(site=site, changes={"safety_margin_amps": Decimal("-1")}, source="api")
    with pytest.raises(services.LoadSettingsError, match="strategy"):
        services.site_load_settings_update(site=site, changes={"strategy": "greedy"}, source="api")
    with pytest.raises(services.LoadSettingsError, match="Unknown"):
        services.site_load_settings_update(site=site, changes={"colour": "red"}, source="api")
    assert not LoadSettingsChange.objects.exists()


# --- other limits at this moment -----------------------------------------------------------


def test_a_recurring_schedule_gives_the_period_in_force():
    schedule = {
        "startSchedule": "2026-01-05T00:00:00Z",  # a Monday
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}, {"startPeriod": 8 * 3600, "limit": 6900}],
    }
    at = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    limit = profiles.limit_now(
        schedule=schedule,
        kind="Recurring",
        recurrency_kind="Daily",
        now=at,
        transaction_start=None,
        voltage=230,
        phases=3,
    )
    assert limit == pytest.approx(10.0)
    at = at.replace(hour=7)
    assert (
        profiles.limit_now(
            schedule=schedule,
            kind="Recurring",
            recurrency_kind="Daily",
            now=at,
            transaction_start=None,
            voltage=230,
            phases=3,
        )
        == 0
    )


def test_chargers_booted_together_get_their_fail_safe_and_one_run_per_managed_site(site, monkeypatch):
    """Issue 20: a batch of boots (charge_points_booted) finds the managed chargers with one
    query and asks for what on_charge_point_booted asks for each, one run per site."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loadmanagement import receivers, selectors, tasks

    managed = [ChargePointFactory(site=site) for _ in range(3)]
    unmanaged = ChargePointFactory(site=SiteFactory())
    off = ChargePointFactory(site=SiteFactory())
    SiteLoadSettings.objects.create(site=off.site, enabled=False)
    ids = [cp.pk for cp in [managed[0], unmanaged, managed[1], off, managed[2]]]
    assert selectors.managed_sites_of(charge_point_ids=ids) == {
        pk: site_id for pk in ids if (site_id := selectors.managed_site_of(charge_point_id=pk)) is not None
    }
    sent: list = []
    monkeypatch.setattr(
        tasks.charger_fail_safe_send, "apply_async", lambda args, **kw: sent.append(("fail_safe", *args))
    )
    monkeypatch.setattr(tasks.site_enforce, "apply_async", lambda args, **kw: sent.append(("site", *args)))
    with CaptureQueriesContext(connection) as queries:
        receivers.on_charge_points_booted(None, charge_point_ids=ids)
    assert len(queries) == 1
    assert sorted(sent) == sorted([("fail_safe", cp.pk) for cp in managed] + [("site", site.pk)])
