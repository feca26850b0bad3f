"""Writes of load management: a site's settings (journaled), the plan of one allocation
run (which limits to send, lower ones first) and the outcome of each command.

The run itself (sending over OCPP) is loadmanagement.enforcement; these are the database
halves around it, so nothing holds a transaction while a charger answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.errors import InvalidRequest
from accounts.models import User
from chargepoints.models import ChargePointEvent, Site
from chargepoints.services import charge_point_event_add
from loadmanagement import allocator, selectors
from loadmanagement.models import ConnectorAllocation, LimitStatus, LoadSettingsChange, SiteLoadSample, SiteLoadSettings
from loadmanagement.signals import load_settings_changed

logger = logging.getLogger(__name__)

SETTINGS_FIELDS = ("enabled", "capacity_amps", "capacity_kw", "safety_margin_amps", "strategy", "fail_safe_amps")
# What a charger's answer means for the limit: anything else (NotSupported, Rejected, a
# CALLERROR) is a refusal.
ACCEPTED = "Accepted"


class LoadSettingsError(InvalidRequest):
    """Settings that cannot be saved; the message is meant for the operator."""

    default_code = "invalid_load_settings"


# --- settings ------------------------------------------------------------------------------


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


@transaction.atomic
def site_load_settings_update(*, site: Site, changes: dict, actor: User | None = None, source: str) -> SiteLoadSettings:
    """Change a site's load settings, journal what changed and who changed it, and re-run
    the allocation after commit (a capacity change takes effect at once)."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise LoadSettingsError(f"Unknown load settings: {', '.join(sorted(unknown))}.")
    load, _ = SiteLoadSettings.objects.select_for_update().get_or_create(site=site)
    before = {name: getattr(load, name) for name in SETTINGS_FIELDS}
    for name, value in changes.items():
        setattr(load, name, value)
    try:
        load.full_clean()
    except ValidationError as error:
        raise LoadSettingsError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from None
    if load.enabled and load.capacity_amps is None and site.grid_capacity_amps is None and load.capacity_kw is None:
        raise LoadSettingsError("Give the site a capacity (A per phase or kW) before turning load management on.")
    load.save()
    load.refresh_from_db()
    diff = {
        name: [_plain(before[name]), _plain(getattr(load, name))]
        for name in SETTINGS_FIELDS
        if before[name] != getattr(load, name)
    }
    if diff:
        LoadSettingsChange.objects.create(site=site, actor=actor, source=source, changes=diff)
        site_id = site.pk
        # Robust: with the broker down the change stays saved; the periodic run applies it.
        transaction.on_commit(lambda: load_settings_changed.send(sender=SiteLoadSettings, site_id=site_id), robust=True)
    return load


# --- one run: plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitCommand:
    connector_pk: int
    session_pk: int
    identity: str
    protocol: str
    connector_id: int
    evse_id: int
    transaction_id: str
    limit_amps: Decimal
    previous_amps: Decimal | None

    @property
    def lowers(self) -> bool:
        """An unknown previous limit is taken for the charger's maximum: anything lowers it."""
        return self.previous_amps is None or self.limit_amps < self.previous_amps


@dataclass
class Plan:
    site_id: int
    lower: list[LimitCommand]
    raise_: list[LimitCommand]
    paused: list[int]


def _changed(car: selectors.Car, limit: Decimal) -> bool:
    if car.demand.fixed:
        return False  # refused, or out of reach: counted at its maximum, nothing to send
    allocation = car.allocation
    if allocation is None or allocation.session_id != car.session_pk:
        return True
    if allocation.status in (LimitStatus.PENDING, LimitStatus.OFFLINE):
        return True  # not known to have taken it: again
    return allocation.limit_amps != limit


def _previous_limit(car: selectors.Car) -> Decimal | None:
    """What the car may draw now: the limit we gave its session, else (a new session) the
    fail-safe default it started at; None when unknown (counted as its maximum)."""
    allocation = car.allocation
    if allocation is not None and allocation.session_id == car.session_pk:
        return allocation.limit_amps if allocation.status == LimitStatus.ACCEPTED else None
    return car.fail_safe_amps


@transaction.atomic
def site_plan(*, site_id: int, now: datetime | None = None) -> Plan | None:
    """Allocate a managed site and return the limits that changed, lower ones and higher
    ones apart. Records what each car draws (flagging one above its limit), a history
    sample, and forgets the limits of sessions that ended. None when the site is not managed."""
    now = now or timezone.now()
    picture = selectors.site_picture(site_id=site_id, now=now)
    if picture is None:
        return None
    allocation = allocator.allocate(picture.state)
    _forget_ended(site_id, {car.connector_pk for car in picture.cars})
    commands = []
    for car in picture.cars:
        limit = Decimal(str(allocation.limits[car.connector_pk])).quantize(Decimal("0.1"))
        _note_draw(car, now)
        if _changed(car, limit):
            previous = _previous_limit(car)
            commands.append(
                LimitCommand(
                    connector_pk=car.connector_pk,
                    session_pk=car.session_pk,
                    identity=car.identity,
                    protocol=car.protocol,
                    connector_id=car.connector_id,
                    evse_id=car.evse_id,
                    transaction_id=car.transaction_id,
                    limit_amps=limit,
                    previous_amps=previous,
                )
            )
    _sample(picture, allocation, now)
    return Plan(
        site_id=site_id,
        lower=[c for c in commands if c.lowers],
        raise_=[c for c in commands if not c.lowers],
        paused=list(allocation.paused),
    )


def site_allocations_forget(*, site_id: int) -> None:
    """Load management is off: no limit of ours is in force on the site any more."""
    _forget_ended(site_id, set())


def _forget_ended(site_id: int, running: set[int]) -> None:
    ConnectorAllocation.objects.filter(connector__charge_point__site_id=site_id, session__isnull=False).exclude(
        connector_id__in=running
    ).update(session=None, limit_amps=None, status="", over_limit_since=None, draw_amps=[])


def _note_draw(car: selectors.Car, now: datetime) -> None:
    """Keep the latest draw; flag a car above its accepted limit past the grace time."""
    allocation = car.allocation
    if allocation is None or allocation.session_id != car.session_pk or car.draw is None:
        return
    allocation.draw_amps, allocation.draw_at = [round(a, 1) for a in car.draw], car.draw_at
    fields = ["draw_amps", "draw_at", "updated_at"]
    grace = timedelta(seconds=settings.LOADMANAGEMENT_OVER_LIMIT_GRACE_SECONDS)
    over = (
        allocation.status == LimitStatus.ACCEPTED
        and allocation.limit_amps is not None
        and allocation.sent_at is not None
        and car.draw_at is not None
        and car.draw_at > allocation.sent_at + grace
        and max(car.draw) > float(allocation.limit_amps) + settings.LOADMANAGEMENT_OVER_LIMIT_TOLERANCE_AMPS
    )
    if over and allocation.over_limit_since is None:
        allocation.over_limit_since = now
        charge_point_event_add(
            charge_point_id=car.charge_point_pk,
            kind="load_limit_exceeded",
            severity=ChargePointEvent.Severity.WARNING,
            message=f"Connector {car.connector_id} draws {max(car.draw):.1f} A, above its limit of {allocation.limit_amps} A.",
            payload={
                "connector_id": car.connector_id,
                "draw_amps": allocation.draw_amps,
                "limit_amps": str(allocation.limit_amps),
            },
        )
    elif not over:
        allocation.over_limit_since = None
    fields.append("over_limit_since")
    allocation.save(update_fields=fields)


def _sample(picture: selectors.SitePicture, allocation: allocator.Allocation, now: datetime) -> None:
    limits = allocator.phase_sums(picture.state, allocation)
    draws = [0.0, 0.0, 0.0]
    for car in picture.cars:
        if car.draw is not None:
            for phase in range(3):
                draws[phase] += car.draw[phase]
    SiteLoadSample.objects.create(
        site_id=picture.settings.site_id,
        at=now,
        capacity_amps=picture.capacity_amps,
        limits_amps=[round(v, 1) for v in limits],
        draw_amps=[round(v, 1) for v in draws],
    )


# --- one run: outcomes -----------------------------------------------------------------------


@transaction.atomic
def limit_outcome_record(*, command: LimitCommand, answer: str, detail: str = "", at: datetime | None = None) -> str:
    """Record a charger's answer to one of our limits ("Accepted", "Rejected",
    "NotSupported", "CallError", "Timeout", "Offline"); returns the stored status. A refusal
    is told to the operator once per session."""
    status = {
        ACCEPTED: LimitStatus.ACCEPTED,
        "Timeout": LimitStatus.PENDING,
        "Offline": LimitStatus.OFFLINE,
    }.get(answer, LimitStatus.REJECTED)
    allocation, _ = ConnectorAllocation.objects.select_for_update().get_or_create(connector_id=command.connector_pk)
    refused_before = allocation.session_id == command.session_pk and allocation.status == LimitStatus.REJECTED
    allocation.session_id = command.session_pk
    allocation.limit_amps = command.limit_amps
    allocation.status = status
    allocation.sent_at = at or timezone.now()
    allocation.over_limit_since = None
    allocation.save()
    if status == LimitStatus.REJECTED and not refused_before:
        charge_point_id = allocation.connector.charge_point_id
        charge_point_event_add(
            charge_point_id=charge_point_id,
            kind="load_limit_refused",
            severity=ChargePointEvent.Severity.WARNING,
            message=(
                f"Connector {command.connector_id} refused a load management limit of {command.limit_amps} A "
                f"({answer}{': ' + detail if detail else ''}); it is counted at its maximum."
            ),
            payload={"connector_id": command.connector_id, "answer": answer, "limit_amps": str(command.limit_amps)},
        )
    return status


def fail_safe_refused_record(*, charge_point_id: int, answer: str, limit_amps: Decimal) -> None:
    charge_point_event_add(
        charge_point_id=charge_point_id,
        kind="load_fail_safe_refused",
        severity=ChargePointEvent.Severity.WARNING,
        message=f"The charger refused the fail-safe default limit of {limit_amps} A ({answer}).",
        payload={"answer": answer, "limit_amps": str(limit_amps)},
    )


def load_samples_purge(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOADMANAGEMENT_SAMPLE_RETENTION_DAYS)
    deleted, _ = SiteLoadSample.objects.filter(at__lt=cutoff).delete()
    return deleted
