"""Writes and charger commands behind the Blue Current-compatible API.

Commands go to chargers through ocpp_consumer.commands (OCPP 1.6 actions; 2.0.1 chargers get
them translated there). Outcomes are short reasons the client shows: "" (done), REJECTED,
TIMEOUT, OFFLINE, FAILED, UNAVAILABLE (no command bus on this server).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from bluecurrent import selectors, smart
from chargepoints.models import ChargePoint, ChargingProfile, Connector
from ocpp_consumer import charging_profiles, commands, remote_control
from sessions_app.models import ChargeSession

logger = logging.getLogger(__name__)

ACCEPTED = {"Accepted", "Scheduled"}


async def command(
    identity: str, action: str, payload: dict, *, source: str = selectors.HOME_API_SOURCE
) -> tuple[str, dict]:
    """Send one OCPP command; (reason, answer) with reason "" when the charger accepted.
    The bus records what the answer tells (ocpp_consumer.answers), with `source`."""
    return await outcome(
        lambda: commands.send_async(
            identity, action, payload, timeout=settings.BLUECURRENT_COMMAND_TIMEOUT, source=source
        ),
        identity=identity,
        action=action,
    )


async def session_start(*, charge_point: ChargePoint, connector: Connector, id_tag: str) -> tuple[str, dict]:
    return await outcome(
        lambda: remote_control.remote_start_async(
            charge_point=charge_point,
            connector=connector,
            id_tag=id_tag,
            timeout=settings.BLUECURRENT_COMMAND_TIMEOUT,
            source=selectors.HOME_API_SOURCE,
        ),
        identity=charge_point.identity,
        action="RemoteStartTransaction",
    )


async def session_stop(*, session: ChargeSession, identity: str) -> tuple[str, dict]:
    return await outcome(
        lambda: remote_control.remote_stop_async(
            session=session, timeout=settings.BLUECURRENT_COMMAND_TIMEOUT, source=selectors.HOME_API_SOURCE
        ),
        identity=identity,
        action="RemoteStopTransaction",
    )


async def outcome(send: Callable[[], Awaitable[dict]], *, identity: str, action: str) -> tuple[str, dict]:
    """(reason, answer) of one command, reason "" when the charger accepted: the Blue Current
    API's one mapping of the command bus's errors."""
    try:
        answer = await send()
    except commands.ChargerOffline:
        return "OFFLINE", {}
    except commands.CommandTimeout:
        return "TIMEOUT", {}
    except commands.CommandError as exc:
        logger.info("%s to %s failed: %s", action, identity, exc)
        return "FAILED", {}
    status = (answer or {}).get("status", "")
    if status in ACCEPTED or (not status and action in ("RemoteStopTransaction",)):
        return "", answer or {}
    return (status or "FAILED").upper(), answer or {}


@transaction.atomic
def flag_set(*, charge_point_id: int, field: str, value: bool) -> ChargePoint:
    assert field in ("public_charging", "plug_and_charge", "is_operative")
    ChargePoint.objects.filter(pk=charge_point_id).update(**{field: value})
    return ChargePoint.objects.get(pk=charge_point_id)


def active_session(*, charge_point: ChargePoint) -> ChargeSession | None:
    return ChargeSession.objects.filter(charge_point=charge_point, status=ChargeSession.Status.ACTIVE).first()


START_WATCH_INTERVAL = 0.5
# A connector where a car may be waiting first (a start there charges it at once), then a free one.
STARTABLE_STATUSES = [("Preparing", "Occupied"), ("Available", "")]


def free_connector(*, charge_point: ChargePoint) -> Connector | None:
    """A connector a remote start can use: no session on it and not in use, out of order or
    reserved; None when there is none."""
    busy = set(
        ChargeSession.objects.filter(charge_point=charge_point, status=ChargeSession.Status.ACTIVE).values_list(
            "connector_id", flat=True
        )
    )
    connectors = [
        c for c in charge_point.connectors.select_related("evse").order_by("connector_id") if c.pk not in busy
    ]
    for statuses in STARTABLE_STATUSES:
        for connector in connectors:
            if connector.status in statuses:
                return connector
    return None


def _started_transaction(*, connector_id: int, id_tag: str, since: datetime) -> ChargeSession | None:
    return (
        ChargeSession.objects.filter(connector_id=connector_id, id_tag=id_tag, created_at__gte=since)
        .order_by("created_at")
        .first()
    )


async def start_refusal(*, connector: Connector, id_tag: str, since: datetime) -> str:
    """After the charger accepted a remote start: wait (up to BLUECURRENT_START_WATCH_SECONDS)
    for the transaction it starts, and return why we refused it (its idTagInfo status, e.g.
    CONCURRENTTX), or "" when we accepted it or none started in that time."""
    deadline = asyncio.get_running_loop().time() + settings.BLUECURRENT_START_WATCH_SECONDS
    while True:
        session = await database_sync_to_async(_started_transaction)(
            connector_id=connector.pk, id_tag=id_tag, since=since
        )
        if session is not None:
            return "" if session.authorization in ("", "Accepted") else session.authorization.upper()
        if asyncio.get_running_loop().time() >= deadline:
            return ""
        await asyncio.sleep(START_WATCH_INTERVAL)


# --- charging profiles ---------------------------------------------------------------------

KIND_PURPOSE = {
    "delayed": (smart.DELAYED_PROFILE_ID, ChargingProfile.Purpose.TX_DEFAULT, 1, ChargingProfile.Kind.RECURRING),
    "price": (smart.PRICE_PROFILE_ID, ChargingProfile.Purpose.TX_DEFAULT, 2, ChargingProfile.Kind.ABSOLUTE),
}


@transaction.atomic
def profile_save(
    *, charge_point: ChargePoint, kind: str, schedule: dict, enabled: bool, profile_id: int | None = None
) -> ChargingProfile:
    """Record the profile we are about to send (pending) or only its settings (cleared).
    The row holds this API's settings (schedule customData) whatever the charger says; the
    charger's answer to the send then updates its status (ocpp_consumer.answers). A live
    profile of the same id is replaced: the charger replaces it too."""
    default_id, purpose, stack, profile_kind = KIND_PURPOSE.get(
        kind, (profile_id, ChargingProfile.Purpose.CHARGE_POINT_MAX, 1, ChargingProfile.Kind.RECURRING)
    )
    profile_id = profile_id or default_id
    ChargingProfile.objects.filter(
        charge_point=charge_point,
        profile_id=profile_id,
        status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE],
    ).update(status=ChargingProfile.Status.CLEARED)
    return ChargingProfile.objects.create(
        charge_point=charge_point,
        connector_id=0,
        profile_id=profile_id,
        stack_level=stack,
        purpose=purpose,
        kind=profile_kind,
        recurrency_kind="Weekly" if profile_kind == ChargingProfile.Kind.RECURRING else "",
        charging_rate_unit="A",
        schedule=schedule,
        status=ChargingProfile.Status.PENDING if enabled else ChargingProfile.Status.CLEARED,
        source=f"{selectors.HOME_API_SOURCE}:{kind}",
    )


def profile_mark(*, profile_pk: int, status: str) -> None:
    ChargingProfile.objects.filter(pk=profile_pk).update(status=status)


def profile_payload(profile: ChargingProfile) -> dict:
    return charging_profiles.set_profile_payload(
        connector_id=profile.connector_id,
        profile_id=profile.profile_id,
        stack_level=profile.stack_level,
        purpose=profile.purpose,
        kind=profile.kind,
        charging_schedule=smart.for_ocpp16(profile.schedule),
        recurrency_kind=profile.recurrency_kind,
    )


def override_next_id() -> int:
    top = ChargingProfile.objects.filter(source=f"{selectors.HOME_API_SOURCE}:override").aggregate(m=Max("profile_id"))
    return max(smart.OVERRIDE_FIRST_ID, (top["m"] or 0) + 1)


def override_rows(*, user, schedule_id: int):
    return ChargingProfile.objects.filter(
        charge_point__in=selectors.charge_points_for_driver(user=user),
        profile_id=schedule_id,
        source=f"{selectors.HOME_API_SOURCE}:override",
        status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE],
    ).select_related("charge_point")


async def profile_send(profile: ChargingProfile) -> str:
    """Send a pending profile. The bus turns the row active or rejected from the charger's
    answer; offline or without an answer it stays pending (still switched on)."""
    reason, _ = await command(
        profile.charge_point.identity, "SetChargingProfile", profile_payload(profile), source=profile.source
    )
    return reason


async def profile_clear(*, identity: str, profile_id: int) -> str:
    reason, _ = await command(identity, "ClearChargingProfile", {"id": profile_id})
    # "Unknown": the charger did not have it, which is the state we want.
    return "" if reason == "UNKNOWN" else reason
