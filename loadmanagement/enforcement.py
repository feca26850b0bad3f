"""One load management run for a site: plan (services.site_plan), send the limits that
changed over OCPP (ocpp_consumer.commands), lower ones first, and record each answer.

Lower before higher: every lowered limit is answered (or has failed) before any limit is
raised, so the site never overshoots in between. If a lowering failed (refused, no
answer, charger gone) nothing is raised this time: the next run counts that charger at
its maximum (refused) or sends it again, and re-plans the rest.

One run per site at a time (a cache lock); a run asked for while one is going sets a flag
and the running one goes again when it is done. Safe to run twice."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from chargepoints.models import ChargePoint, ChargingProfile, OcppVersion
from loadmanagement import profiles, selectors, services
from loadmanagement.models import SiteLoadSettings
from ocpp_consumer import commands
from ocpp_consumer.command_errors import CallErrorReceived, ChargerOffline, CommandError, CommandTimeout

logger = logging.getLogger(__name__)

LOCK_SECONDS = 120
MAX_ROUNDS = 5


def _lock_key(site_id: int) -> str:
    return f"loadmanagement:run:{site_id}"


def _again_key(site_id: int) -> str:
    return f"loadmanagement:again:{site_id}"


async def _send(identity: str, payload: dict) -> tuple[str, str]:
    """(answer, detail): the charger's status, or CallError / Timeout / Offline."""
    try:
        answer = await commands.send_async(
            identity,
            "SetChargingProfile",
            payload,
            timeout=settings.LOADMANAGEMENT_COMMAND_TIMEOUT,
            source=profiles.SOURCE,
        )
    except CallErrorReceived as error:
        return "CallError", str(error)
    except CommandTimeout:
        return "Timeout", ""
    except ChargerOffline:
        return "Offline", ""
    except CommandError as error:  # invalid payload and the like: ours, logged
        logger.warning("%s: load limit not sent: %s", identity, error)
        return "CallError", str(error)
    return str(answer.get("status", "")), ""


def _tx_payload(command: services.LimitCommand) -> dict:
    if command.protocol == OcppVersion.V201:
        return profiles.tx_profile_payload_201(
            evse_id=command.evse_id, transaction_id=command.transaction_id, limit_amps=command.limit_amps
        )
    return profiles.tx_profile_payload(
        connector_id=command.connector_id, transaction_id=int(command.transaction_id), limit_amps=command.limit_amps
    )


async def _send_all(batch: list[services.LimitCommand]) -> list[tuple[services.LimitCommand, str, str]]:
    answers = await asyncio.gather(*(_send(c.identity, _tx_payload(c)) for c in batch))
    return [(command, answer, detail) for command, (answer, detail) in zip(batch, answers)]


def _send_and_record(batch: list[services.LimitCommand]) -> bool:
    """Send a batch at once; True when every charger took its limit."""
    if not batch:
        return True
    outcomes = async_to_sync(_send_all)(batch)
    accepted = True
    for command, answer, detail in outcomes:
        services.limit_outcome_record(command=command, answer=answer, detail=detail)
        accepted = accepted and answer == services.ACCEPTED
    return accepted


def site_run_once(*, site_id: int) -> services.Plan | None:
    """Plan, send the lowered limits, and only when all were taken the raised ones."""
    plan = services.site_plan(site_id=site_id)
    if plan is None:
        return None
    if not _send_and_record(plan.lower):
        if plan.raise_:
            cache.set(_again_key(site_id), 1, LOCK_SECONDS)
        return plan
    _send_and_record(plan.raise_)
    return plan


def site_enforce(*, site_id: int, fail_safe: bool = False, retry: bool = True) -> bool:
    """Run the site (again while asked to); False when another run holds it (it will go
    again for this request)."""
    if not cache.add(_lock_key(site_id), 1, LOCK_SECONDS):
        cache.set(_again_key(site_id), 1, LOCK_SECONDS)
        return False
    try:
        settled = _rounds(site_id, fail_safe=fail_safe)
    finally:
        cache.delete(_lock_key(site_id))
    if not settled:
        cache.delete(_again_key(site_id))  # our own request, MAX_ROUNDS times: the next run goes on
    elif retry and cache.get(_again_key(site_id)):
        # Asked for between our last look and the release: take it (or leave it to
        # whoever holds the lock now, who looks at the flag first thing).
        site_enforce(site_id=site_id, fail_safe=True, retry=False)
    return True


def _rounds(site_id: int, *, fail_safe: bool) -> bool:
    """Run until nobody asks again; False when still asked after MAX_ROUNDS."""
    for round_number in range(MAX_ROUNDS):
        cache.delete(_again_key(site_id))
        if not SiteLoadSettings.objects.filter(site_id=site_id, enabled=True).exists():
            site_profiles_clear(site_id=site_id)  # turned off (perhaps while we ran)
        else:
            if fail_safe or round_number:  # a request that came in meanwhile may be a settings change
                site_fail_safe_send(site_id=site_id)
            site_run_once(site_id=site_id)
        if not cache.get(_again_key(site_id)):
            return True
    return False


# --- the fail-safe default ----------------------------------------------------------------------


def _fail_safe_in_place(charge_point: ChargePoint, limit: Decimal) -> bool:
    row = (
        ChargingProfile.objects.filter(
            charge_point=charge_point,
            profile_id=profiles.FAIL_SAFE_PROFILE_ID,
            status=ChargingProfile.Status.ACTIVE,
            source=profiles.SOURCE,
        )
        .order_by("-updated_at")
        .first()
    )
    if row is None or not isinstance(row.schedule, dict):
        return False
    periods = row.schedule.get("chargingSchedulePeriod") or [{}]
    return Decimal(str(periods[0].get("limit", -1))) == limit


def charger_fail_safe_send(*, charge_point_id: int, force: bool = False) -> str | None:
    """Give a charger on a managed site its fail-safe TxDefaultProfile (unless it has that
    one already). Returns the charger's answer, None when nothing was sent."""
    charge_point = ChargePoint.objects.filter(pk=charge_point_id).select_related("site").first()
    if charge_point is None or charge_point.site_id is None:
        return None
    load = SiteLoadSettings.objects.select_related("site").filter(site_id=charge_point.site_id, enabled=True).first()
    if load is None:
        return None
    limit = selectors.fail_safe_amps(load=load)
    if not force and _fail_safe_in_place(charge_point, limit):
        return None
    answer, _detail = async_to_sync(_send)(charge_point.identity, profiles.fail_safe_payload(limit_amps=limit))
    if answer not in (services.ACCEPTED, "Offline", "Timeout"):
        services.fail_safe_refused_record(charge_point_id=charge_point.pk, answer=answer, limit_amps=limit)
    return answer


def site_fail_safe_send(*, site_id: int) -> None:
    """The fail-safe default on every online charger of a site that lacks it (a capacity
    change changes it)."""
    for charge_point in ChargePoint.objects.filter(site_id=site_id, is_online=True).only("pk"):
        charger_fail_safe_send(charge_point_id=charge_point.pk)


# --- turning it off ---------------------------------------------------------------------------


async def _clear(identity: str, profile_id: int) -> None:
    try:
        await commands.send_async(
            identity,
            "ClearChargingProfile",
            {"id": profile_id},
            timeout=settings.LOADMANAGEMENT_COMMAND_TIMEOUT,
            source=profiles.SOURCE,
        )
    except CommandError as error:
        logger.warning("%s: load management profile %s not cleared: %s", identity, profile_id, error)


def site_profiles_clear(*, site_id: int) -> int:
    """Load management turned off: take our profiles (the fail-safe default, the running
    sessions' limits) off the site's online chargers, so only the other limits remain.
    Returns how many were cleared."""
    rows = list(
        ChargingProfile.objects.filter(
            charge_point__site_id=site_id,
            charge_point__is_online=True,
            source=profiles.SOURCE,
            status__in=[ChargingProfile.Status.ACTIVE, ChargingProfile.Status.PENDING],
        ).values_list("charge_point__identity", "profile_id")
    )

    async def clear_all() -> None:
        await asyncio.gather(*(_clear(identity, profile_id) for identity, profile_id in rows))

    if rows:
        async_to_sync(clear_all)()
    services.site_allocations_forget(site_id=site_id)
    return len(rows)
