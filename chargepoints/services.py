"""Writes of charge points, connectors, the frame journal and charger events.

OCPP handlers call these through `sync_to_async`; every write is one transaction, and
live state goes out to `cp.<identity>` after commit (chargepoints.fanout).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from chargepoints import charger_secrets
from chargepoints.fanout import publish_state, state_message
from chargepoints.identity import identity_is_valid
from chargepoints.models import (
    ChargePoint,
    ChargePointEvent,
    ChargingProfile,
    ConfigurationKey,
    Connector,
    ConnectorStatus,
    ConnectorStatusChange,
    ConnectorType,
    Evse,
    OcppMessage,
    RegistrationStatus,
    Site,
)
from chargepoints.selectors import charge_point_password_matches
from chargepoints.signals import charge_point_booted, charge_points_booted

UNKNOWN_REFUSE = "refuse"
UNKNOWN_PENDING = "pending"


# --- state fan-out ------------------------------------------------------------------


def connector_state(connector: Connector, identity: str, **extra) -> dict:
    return state_message(
        identity=identity,
        connector_id=connector.connector_id,
        status=connector.status,
        power_w=connector.power_w,
        meter_wh=connector.meter_wh,
        soc=connector.soc_percent,
        **extra,
    )


def charge_point_state(charge_point: ChargePoint) -> dict:
    return state_message(
        identity=charge_point.identity,
        connector_id=0,
        status=charge_point.status or ("Online" if charge_point.is_online else "Offline"),
        online=charge_point.is_online,
        registration_status=charge_point.registration_status,
    )


def _publish_after_commit(state: dict) -> None:
    transaction.on_commit(lambda: publish_state(state))


# --- charge points ------------------------------------------------------------------


@transaction.atomic
def charge_point_add(
    *,
    identity: str,
    password: str | None = None,
    site: Site | None = None,
    name: str = "",
    vendor: str = "",
    model: str = "",
    serial_number: str = "",
    registration_status: str = RegistrationStatus.ACCEPTED,
    connector_count: int = 0,
    max_power_kw: Decimal | None = None,
) -> ChargePoint:
    charge_point = ChargePoint(
        identity=identity,
        site=site,
        name=name,
        vendor=vendor,
        model=model,
        serial_number=serial_number,
        registration_status=registration_status,
        max_power_kw=max_power_kw,
        heartbeat_interval=settings.OCPP_HEARTBEAT_INTERVAL,
    )
    if password:
        charge_point.password_hash = charger_secrets.make_hash(password)
    charge_point.full_clean(exclude=["password_hash"])
    charge_point.save()
    for number in range(1, connector_count + 1):
        connector_add(charge_point=charge_point, connector_id=number)
    return charge_point


_UPDATABLE = {
    "site",
    "name",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "registration_status",
    "heartbeat_interval",
    "public_charging",
    "plug_and_charge",
    "is_operative",
    "max_power_kw",
}


@transaction.atomic
def charge_point_update(*, charge_point: ChargePoint, data: dict[str, Any]) -> ChargePoint:
    """Update the given fields; a `password` key is stored hashed."""
    data = dict(data)
    password = data.pop("password", None)
    unknown = set(data) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    for field, value in data.items():
        setattr(charge_point, field, value)
    if password:
        charge_point.password_hash = charger_secrets.make_hash(password)
    charge_point.full_clean(exclude=["password_hash"])
    charge_point.save()
    _publish_after_commit(charge_point_state(charge_point))
    return charge_point


@transaction.atomic
def charge_point_set_password(*, charge_point: ChargePoint, password: str) -> None:
    charge_point.password_hash = charger_secrets.make_hash(password)
    charge_point.save(update_fields=["password_hash", "updated_at"])


@transaction.atomic
def charge_point_remove(*, identity: str) -> None:
    """Remove a charge point and its connectors. Refused (ProtectedError) while it has sessions."""
    ChargePoint.objects.filter(identity=identity).delete()


# (identity, stored password hash) -> (HMAC of the password that matched it, expiry).
# A charger's successful check is remembered for OCPP_PASSWORD_CACHE_SECONDS, so a
# reconnect storm (thousands of chargers after a restart) skips the hasher, and a charger
# whose id is under attack (locked out by failed attempts, ocpp_consumer/auth.py) still
# gets in. Only a keyed digest is kept, never the password; a changed password changes
# the stored hash, so the old entry no longer applies.
_password_cache: dict[tuple[str, str], tuple[bytes, float]] = {}
_password_cache_key = secrets.token_bytes(32)
_clock = time.monotonic


def _password_digest(password: str) -> bytes:
    return hmac.new(_password_cache_key, password.encode("utf-8"), hashlib.sha256).digest()


def charge_point_password_cached(*, charge_point: ChargePoint, password: str | None) -> bool:
    """Whether this password matched this charger's stored hash within the cache time."""
    if not password or settings.OCPP_PASSWORD_CACHE_SECONDS <= 0:
        return False
    cached = _password_cache.get((charge_point.identity, charge_point.password_hash))
    return cached is not None and cached[1] > _clock() and hmac.compare_digest(cached[0], _password_digest(password))


def charge_point_password_check(*, charge_point: ChargePoint, password: str | None) -> tuple[bool, str | None]:
    """(is this the charger's password, the hash to store instead of an older slow one).

    No database access: the OCPP consumer runs it in a thread pool of its own, off the
    thread that commits the frames (ocpp_consumer/auth.py)."""
    if charge_point_password_cached(charge_point=charge_point, password=password):
        return True, None
    if not charge_point_password_matches(charge_point=charge_point, password=password):
        return False, None
    upgraded = None if charger_secrets.is_current(charge_point.password_hash) else charger_secrets.make_hash(password)
    ttl = settings.OCPP_PASSWORD_CACHE_SECONDS
    if ttl > 0 and password:
        now = _clock()
        if len(_password_cache) > 100_000:  # a bound, not an LRU: expired entries go first
            for stale in [k for k, (_, until) in _password_cache.items() if until <= now] or list(_password_cache):
                del _password_cache[stale]
        _password_cache[(charge_point.identity, charge_point.password_hash)] = (_password_digest(password), now + ttl)
    return True, upgraded


def _password_ok(charge_point: ChargePoint, password: str | None) -> bool:
    ok, upgraded = charge_point_password_check(charge_point=charge_point, password=password)
    if upgraded:
        charge_point_password_hash_replace(
            charge_point_id=charge_point.pk, old_hash=charge_point.password_hash, new_hash=upgraded
        )
    return ok


@transaction.atomic
def charge_point_password_hash_replace(*, charge_point_id: int, old_hash: str, new_hash: str) -> bool:
    """Store a charger's upgraded password hash, unless its password changed meanwhile."""
    return bool(ChargePoint.objects.filter(pk=charge_point_id, password_hash=old_hash).update(password_hash=new_hash))


def charge_point_connect(*, identity: str, password: str | None, protocol: str) -> ChargePoint | None:
    """Decide whether a charger may open a connection; None means refuse.

    A known charger must present its own password. An unknown one is refused, or, when
    OCPP_UNKNOWN_CHARGERS is "pending", registered as Pending (keeping the
    password it presented, so only it can come back under that id) for an operator.
    """
    return charge_point_connect_many(requests=[{"identity": identity, "password": password, "protocol": protocol}])[0]


def charge_point_connect_many(*, requests: list[dict]) -> list[ChargePoint | None]:
    """charge_point_connect for many connections at once, checking passwords in the calling
    thread (the OCPP consumer admits with charge_point_admit_many and checks passwords in
    its own pool instead). Each request: identity, password, protocol."""
    admitted = charge_point_admit_many(
        requests=[
            {
                "identity": r["identity"],
                "protocol": r["protocol"],
                "password_hash": charger_secrets.make_hash(r["password"]) if r["password"] else "",
            }
            for r in requests
        ]
    )
    answers: list[ChargePoint | None] = []
    for request, (charge_point, verified) in zip(requests, admitted):
        if charge_point is not None and not verified and not _password_ok(charge_point, request["password"]):
            charge_point = None
        answers.append(charge_point)
    return answers


def charge_point_admit_many(*, requests: list[dict]) -> list[tuple[ChargePoint | None, bool]]:
    """The first half of a connect, for many connections at once (a fleet reconnecting):
    one query finds the known chargers; an unknown one is refused or registered as Pending.
    Each request: identity, protocol, password_hash (of the password presented, made by the
    caller, or ""). Each answer, in order: (the charger or None, whether it is already
    authenticated: registered just now with that password, or needing none). Passwords
    of known chargers are checked by the caller (charge_point_password_check), so no
    hashing happens here, on the thread that commits every charger's frames."""
    known = {cp.identity: cp for cp in ChargePoint.objects.filter(identity__in={r["identity"] for r in requests})}
    answers: list[tuple[ChargePoint | None, bool]] = []
    for request in requests:
        charge_point = known.get(request["identity"])
        if charge_point is None:
            charge_point = _register_unknown(**request)
            if charge_point is not None:  # the same charger again in this batch: its password decides
                known[charge_point.identity] = charge_point
            answers.append((charge_point, charge_point is not None))
        else:
            answers.append((charge_point, not charge_point.password_hash and not settings.OCPP_REQUIRE_PASSWORD))
    return answers


def _register_unknown(*, identity: str, password_hash: str, protocol: str) -> ChargePoint | None:
    if settings.OCPP_UNKNOWN_CHARGERS != UNKNOWN_PENDING or not identity_is_valid(identity):
        return None
    if not password_hash and settings.OCPP_REQUIRE_PASSWORD:
        return None
    try:
        with transaction.atomic():
            charge_point = ChargePoint.objects.create(
                identity=identity,
                protocol=protocol,
                registration_status=RegistrationStatus.PENDING,
                password_hash=password_hash,
                heartbeat_interval=settings.OCPP_HEARTBEAT_INTERVAL,
            )
            charge_point_event_add(
                charge_point_id=charge_point.pk,
                kind="registered_pending",
                severity=ChargePointEvent.Severity.WARNING,
                message="Unknown charger connected and was registered as Pending; accept it to let it charge.",
            )
    except IntegrityError:  # registered by a concurrent connection a moment ago
        return None
    return charge_point


def charge_point_mark_online(*, charge_point_id: int, protocol: str) -> None:
    charge_point_mark_online_many(charge_points=[(charge_point_id, protocol)])


@transaction.atomic
def charge_point_mark_online_many(*, charge_points: list[tuple[int, str]]) -> list[None]:
    """Mark chargers online, each with the protocol it connected with: one UPDATE per
    protocol and one SELECT for the live states published after the commit."""
    now = timezone.now()
    latest = dict(charge_points)  # a charger twice in the batch: its later connection's protocol
    by_protocol: dict[str, set[int]] = {}
    for pk, protocol in latest.items():
        by_protocol.setdefault(protocol, set()).add(pk)
    for protocol, pks in by_protocol.items():
        ChargePoint.objects.filter(pk__in=sorted(pks)).update(
            is_online=True, protocol=protocol, last_seen_at=now, updated_at=now
        )
    _publish_states({pk for pk, _ in charge_points})
    return [None] * len(charge_points)


def charge_point_mark_offline(*, charge_point_id: int) -> None:
    charge_point_mark_offline_many(charge_point_ids=[charge_point_id])


@transaction.atomic
def charge_point_mark_offline_many(*, charge_point_ids: list[int]) -> list[None]:
    pks = sorted(set(charge_point_ids))
    ChargePoint.objects.filter(pk__in=pks).update(is_online=False, updated_at=timezone.now())
    _publish_states(pks)  # (a charger removed while connected has no row, and no state)
    return [None] * len(charge_point_ids)


@transaction.atomic
def charge_point_mark_gone_many(*, identities: Iterable[str], not_seen_since: datetime) -> list[str]:
    """Mark offline the chargers whose web process died (ocpp_consumer.registry's sweep),
    except any heard from since `not_seen_since` (it reconnected to another process
    meanwhile). Returns the identities marked offline."""
    gone = list(
        ChargePoint.objects.filter(identity__in=set(identities), is_online=True)
        .exclude(last_seen_at__gte=not_seen_since)
        .order_by("pk")
        .values_list("pk", "identity")
    )
    if gone:
        pks = [pk for pk, _ in gone]
        ChargePoint.objects.filter(pk__in=pks).exclude(last_seen_at__gte=not_seen_since).update(
            is_online=False, updated_at=timezone.now()
        )
        _publish_states(pks)
    return [identity for _, identity in gone]


def _publish_states(pks) -> None:
    for charge_point in ChargePoint.objects.filter(pk__in=pks).only(
        "identity", "status", "is_online", "registration_status"
    ):
        _publish_after_commit(charge_point_state(charge_point))


def charge_point_touch_many(*, charge_point_ids: Iterable[int], at: datetime | None = None) -> None:
    """Record that chargers were heard from (a Heartbeat, or any frame now and then): one
    UPDATE for all of them. The OCPP consumer stages it into the group commit of the
    frames that carried it (ocpp_consumer.protocol), so it costs no database hop of its own."""
    ids = sorted(set(charge_point_ids))
    if ids:
        ChargePoint.objects.filter(pk__in=ids).update(last_seen_at=at or timezone.now(), is_online=True)


@transaction.atomic
def charge_point_offline_sweep(*, now: datetime | None = None) -> list[str]:
    """Mark chargers offline whose heartbeats stopped (several intervals missed).
    Returns the identities marked offline."""
    now = now or timezone.now()
    missed = settings.OCPP_OFFLINE_AFTER_MISSED_HEARTBEATS
    stale = []
    # In primary-key order, the order in which the consumer's set-based updates (last seen,
    # online) lock the same rows, so the two cannot deadlock.
    for charge_point in (
        ChargePoint.objects.filter(is_online=True)
        .only("pk", "identity", "last_seen_at", "heartbeat_interval")
        .order_by("pk")
    ):
        deadline = timedelta(seconds=charge_point.heartbeat_interval * missed)
        if charge_point.last_seen_at is None or charge_point.last_seen_at < now - deadline:
            stale.append(charge_point)
    for charge_point in stale:
        # Conditional update: a charger heard from meanwhile stays online.
        updated = ChargePoint.objects.filter(pk=charge_point.pk, last_seen_at=charge_point.last_seen_at).update(
            is_online=False, updated_at=now
        )
        if updated:
            charge_point.is_online = False
            _publish_after_commit(charge_point_state(charge_point))
    return [cp.identity for cp in stale if not cp.is_online]


@transaction.atomic
def charge_point_boot(
    *,
    charge_point_id: int,
    vendor: str,
    model: str,
    serial_number: str = "",
    firmware_version: str = "",
    iccid: str = "",
    imsi: str = "",
    meter_type: str = "",
    meter_serial_number: str = "",
) -> ChargePoint:
    """Record a BootNotification; the charger's registration status decides the answer."""
    charge_point = ChargePoint.objects.select_for_update().get(pk=charge_point_id)
    now = timezone.now()
    charge_point.vendor, charge_point.model = vendor[:50], model[:50]
    charge_point.serial_number = serial_number[:50]
    charge_point.firmware_version = firmware_version[:50]
    charge_point.iccid, charge_point.imsi = iccid[:20], imsi[:20]
    charge_point.meter_type, charge_point.meter_serial_number = meter_type[:25], meter_serial_number[:25]
    charge_point.last_boot_at = charge_point.last_seen_at = now
    charge_point.is_online = True
    charge_point.save()
    if charge_point.registration_status == RegistrationStatus.REJECTED:
        charge_point_event_add(
            charge_point_id=charge_point.pk,
            kind="boot_rejected",
            severity=ChargePointEvent.Severity.WARNING,
            message="BootNotification rejected: the charger is not allowed to register.",
        )
    _publish_after_commit(charge_point_state(charge_point))
    if charge_point.registration_status == RegistrationStatus.ACCEPTED:
        booted_id = charge_point.pk
        transaction.on_commit(
            lambda: charge_point_booted.send(sender=ChargePoint, charge_point_id=booted_id), robust=True
        )
    return charge_point


_BOOT_FIELDS = (
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "last_boot_at",
    "last_seen_at",
    "is_online",
)


@transaction.atomic
def charge_point_boot_many(*, boots: list[dict]) -> list[ChargePoint]:
    """charge_point_boot for the BootNotifications of many chargers at once, with the same
    outcome as one by one in order: one SELECT ... FOR UPDATE of the chargers (in primary
    key order, the lock order of the other set-based updates) and one UPDATE ... FROM
    (VALUES ...) of what a boot records. Each boot: charge_point_id and the keyword
    arguments of charge_point_boot. Returns the chargers, in order; an unknown charger
    raises ChargePoint.DoesNotExist (as one by one).

    After commit: each charger's live state, and one charge_points_booted signal naming the
    accepted ones (charge_point_booted for each is what charge_point_boot sends)."""
    if not boots:
        return []
    charge_points = {
        cp.pk: cp
        for cp in ChargePoint.objects.select_for_update()
        .filter(pk__in={boot["charge_point_id"] for boot in boots})
        .order_by("pk")
    }
    now = timezone.now()
    answers = []
    for boot in boots:
        charge_point = charge_points.get(boot["charge_point_id"])
        if charge_point is None:
            raise ChargePoint.DoesNotExist(f"No charge point {boot['charge_point_id']}")
        charge_point.vendor, charge_point.model = boot["vendor"][:50], boot["model"][:50]
        charge_point.serial_number = boot.get("serial_number", "")[:50]
        charge_point.firmware_version = boot.get("firmware_version", "")[:50]
        charge_point.iccid, charge_point.imsi = boot.get("iccid", "")[:20], boot.get("imsi", "")[:20]
        charge_point.meter_type = boot.get("meter_type", "")[:25]
        charge_point.meter_serial_number = boot.get("meter_serial_number", "")[:25]
        charge_point.last_boot_at = charge_point.last_seen_at = now
        charge_point.is_online = True
        charge_point.updated_at = now
        if charge_point.registration_status == RegistrationStatus.REJECTED:
            charge_point_event_add(
                charge_point_id=charge_point.pk,
                kind="boot_rejected",
                severity=ChargePointEvent.Severity.WARNING,
                message="BootNotification rejected: the charger is not allowed to register.",
            )
        _publish_after_commit(charge_point_state(charge_point))
        answers.append(charge_point)
    rows_update(model=ChargePoint, fields=_BOOT_FIELDS, objects=charge_points.values(), also={"updated_at": now})
    accepted = [cp.pk for cp in charge_points.values() if cp.registration_status == RegistrationStatus.ACCEPTED]
    if accepted:
        transaction.on_commit(
            lambda: charge_points_booted.send(sender=ChargePoint, charge_point_ids=accepted), robust=True
        )
    return answers


@transaction.atomic
def charge_point_event_add(
    *,
    charge_point_id: int,
    kind: str,
    message: str = "",
    payload: dict | None = None,
    severity: str = ChargePointEvent.Severity.INFO,
) -> ChargePointEvent:
    return ChargePointEvent.objects.create(
        charge_point_id=charge_point_id, kind=kind, severity=severity, message=message[:500], payload=payload or {}
    )


@transaction.atomic
def charge_point_firmware_status_update(*, charge_point_id: int, status: str) -> None:
    ChargePoint.objects.filter(pk=charge_point_id).update(firmware_status=status, updated_at=timezone.now())
    severity = (
        ChargePointEvent.Severity.ERROR
        if status in {"DownloadFailed", "InstallationFailed"}
        else ChargePointEvent.Severity.INFO
    )
    charge_point_event_add(
        charge_point_id=charge_point_id,
        kind="firmware_status",
        severity=severity,
        message=f"Firmware: {status}",
        payload={"status": status},
    )


@transaction.atomic
def charge_point_diagnostics_status_update(*, charge_point_id: int, status: str) -> None:
    ChargePoint.objects.filter(pk=charge_point_id).update(diagnostics_status=status, updated_at=timezone.now())
    severity = ChargePointEvent.Severity.ERROR if status == "UploadFailed" else ChargePointEvent.Severity.INFO
    charge_point_event_add(
        charge_point_id=charge_point_id,
        kind="diagnostics_status",
        severity=severity,
        message=f"Diagnostics: {status}",
        payload={"status": status},
    )


@transaction.atomic
def charge_point_data_transfer_record(
    *, charge_point_id: int, vendor_id: str, message_id: str = "", data: str | None = None
) -> str:
    """Keep a charger's DataTransfer for an operator. We know no vendor extensions, so the
    answer is UnknownVendorId (OCPP 1.6 section 4.3)."""
    charge_point_event_add(
        charge_point_id=charge_point_id,
        kind="data_transfer",
        message=f"DataTransfer from vendor {vendor_id} {message_id}".strip(),
        payload={"vendorId": vendor_id, "messageId": message_id, "data": data},
    )
    return "UnknownVendorId"


# --- connectors (the seed's "chargers") -------------------------------------------


@transaction.atomic
def connector_add(
    *,
    charge_point: ChargePoint,
    connector_id: int,
    connector_type: str = ConnectorType.TYPE2,
    max_power_kw: Decimal = Decimal("22"),
) -> Connector:
    """A new connector is Available (as the seed's addCharger); its EVSE has the same number."""
    evse, _ = Evse.objects.get_or_create(charge_point=charge_point, evse_id=connector_id)
    connector = Connector(
        charge_point=charge_point,
        evse=evse,
        connector_id=connector_id,
        connector_type=connector_type,
        max_power_kw=max_power_kw,
        status=ConnectorStatus.AVAILABLE,
        status_updated_at=timezone.now(),
    )
    connector.full_clean()
    connector.save()
    return connector


@transaction.atomic
def connector_remove(*, charge_point: ChargePoint, connector_id: int) -> None:
    Connector.objects.filter(charge_point=charge_point, connector_id=connector_id).delete()
    Evse.objects.filter(charge_point=charge_point, evse_id=connector_id, connectors__isnull=True).delete()


def connector_ensure(*, charge_point_id: int, connector_id: int) -> Connector:
    """The connector a 1.6 charger reports on, created the first time it is mentioned
    (1.6 has no device model: connectors become known through StatusNotification)."""
    connector = Connector.objects.filter(charge_point_id=charge_point_id, connector_id=connector_id).first()
    if connector is not None:
        return connector
    try:
        with transaction.atomic():
            evse, _ = Evse.objects.get_or_create(charge_point_id=charge_point_id, evse_id=connector_id)
            return Connector.objects.create(
                charge_point_id=charge_point_id,
                evse=evse,
                connector_id=connector_id,
                status=ConnectorStatus.AVAILABLE,
                status_updated_at=timezone.now(),
            )
    except IntegrityError:
        return Connector.objects.get(charge_point_id=charge_point_id, connector_id=connector_id)


@transaction.atomic
def connector_update_status(
    *,
    charge_point_id: int,
    connector_id: int,
    status: str,
    error_code: str = "NoError",
    info: str = "",
    vendor_error_code: str = "",
    at: datetime | None = None,
) -> Connector | None:
    """Apply a StatusNotification. Connector 0 is the charger as a whole (returns None). A
    change of status or error code (or a connector's first report) joins the status history."""
    at = at or timezone.now()
    if connector_id == 0:
        before = ChargePoint.objects.values_list("status", "error_code").get(pk=charge_point_id)
        ChargePoint.objects.filter(pk=charge_point_id).update(
            status=status, error_code=error_code, updated_at=timezone.now()
        )
        if before != (status, error_code):
            _status_change_add(charge_point_id, None, status, error_code, info, vendor_error_code, at)
        charge_point = ChargePoint.objects.get(pk=charge_point_id)
        _publish_after_commit(charge_point_state(charge_point))
        return None
    connector = connector_ensure(charge_point_id=charge_point_id, connector_id=connector_id)
    if (connector.status, connector.error_code) != (status, error_code or "NoError") or not _has_history(connector):
        _status_change_add(charge_point_id, connector, status, error_code or "NoError", info, vendor_error_code, at)
    connector.status, connector.error_code = status, error_code or "NoError"
    connector.info, connector.vendor_error_code = info[:50], vendor_error_code[:50]
    connector.status_updated_at = at
    if status in {ConnectorStatus.AVAILABLE, ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED}:
        connector.power_w = 0 if connector.power_w is not None else None
    connector.save(update_fields=["status", "error_code", "info", "vendor_error_code", "status_updated_at", "power_w"])
    identity = ChargePoint.objects.values_list("identity", flat=True).get(pk=charge_point_id)
    _publish_after_commit(connector_state(connector, identity))
    return connector


def _has_history(connector: Connector) -> bool:
    return ConnectorStatusChange.objects.filter(connector=connector).exists()


_CONNECTOR_STATUS_FIELDS = ("status", "error_code", "info", "vendor_error_code", "status_updated_at", "power_w")
_STATUS_CHANGE_FIELDS = (
    "charge_point_id",
    "connector_id",
    "status",
    "error_code",
    "info",
    "vendor_error_code",
    "at",
    "received_at",
)
_POWER_OFF_STATUSES = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED})


def connectors_with_history_flag(*, charge_point_ids: Iterable[int]) -> QuerySet[Connector]:
    """The connectors of these chargers, each with `has_history` (whether the status history
    has a row of it): what connector_update_status_many needs, in one query."""
    return Connector.objects.filter(charge_point_id__in=set(charge_point_ids)).annotate(
        has_history=Exists(ConnectorStatusChange.objects.filter(connector_id=OuterRef("pk")))
    )


def connector_update_status_many(*, items: list[dict]) -> list[Connector | None]:
    """connector_update_status for many StatusNotifications (of many chargers) at once, with
    the same outcome as calling it for each item in order: one SELECT of the connectors, one
    INSERT of the status-history rows, one UPDATE of the connectors (and one SELECT and
    UPDATE of the chargers for connector 0); the live states are published after commit.

    Each item: charge_point_id, connector_id, status, and optionally error_code, info,
    vendor_error_code, at (None: now), identity (the charger's, saves a query) and connector
    (the Connector, already loaded by connectors_with_history_flag or carrying `has_history`).
    Returns, per item, the connector (None for connector 0)."""
    if not items:
        return []
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        wanted = {
            (item["charge_point_id"], item["connector_id"])
            for item in items
            if item["connector_id"] and item.get("connector") is None
        }
        connectors: dict[tuple[int, int], Connector] = {}
        if wanted:
            connectors = {
                (c.charge_point_id, c.connector_id): c
                for c in connectors_with_history_flag(charge_point_ids={cp for cp, _ in wanted})
                if (c.charge_point_id, c.connector_id) in wanted
            }
        charge_point_ids = {item["charge_point_id"] for item in items if not item["connector_id"]}
        charge_points = (
            {cp.pk: cp for cp in ChargePoint.objects.filter(pk__in=charge_point_ids)} if charge_point_ids else {}
        )
        identities = {cp.pk: cp.identity for cp in charge_points.values()}
        identities.update({item["charge_point_id"]: item["identity"] for item in items if item.get("identity")})
        missing = {item["charge_point_id"] for item in items} - set(identities)
        if missing:
            identities.update(ChargePoint.objects.filter(pk__in=missing).values_list("pk", "identity"))
        history: list[tuple] = []
        changed_connectors: dict[int, Connector] = {}
        changed_charge_points: dict[int, ChargePoint] = {}
        results: list[Connector | None] = []
        for item in items:
            charge_point_id, status = item["charge_point_id"], item["status"]
            error_code = item.get("error_code", "NoError")
            info, vendor_error_code = item.get("info", ""), item.get("vendor_error_code", "")
            at = item.get("at") or now
            if not item["connector_id"]:
                charge_point = charge_points.get(charge_point_id)
                if charge_point is None:
                    raise ChargePoint.DoesNotExist(f"No charge point {charge_point_id}")
                if (charge_point.status, charge_point.error_code) != (status, error_code):
                    history.append(
                        _status_change_row(charge_point_id, None, status, error_code, info, vendor_error_code, at, now)
                    )
                charge_point.status, charge_point.error_code = status, error_code
                changed_charge_points[charge_point.pk] = charge_point
                _publish_after_commit(charge_point_state(charge_point))
                results.append(None)
                continue
            connector = item.get("connector") or connectors.get((charge_point_id, item["connector_id"]))
            if connector is None:  # (the first report of a connector: created, as one by one)
                connector = connector_ensure(charge_point_id=charge_point_id, connector_id=item["connector_id"])
                connector.has_history = _has_history(connector)
                connectors[(charge_point_id, item["connector_id"])] = connector
            error_code = error_code or "NoError"
            if (connector.status, connector.error_code) != (status, error_code) or not connector.has_history:
                history.append(
                    _status_change_row(
                        charge_point_id, connector.pk, status, error_code, info, vendor_error_code, at, now
                    )
                )
                connector.has_history = True
            connector.status, connector.error_code = status, error_code
            connector.info, connector.vendor_error_code = info[:50], vendor_error_code[:50]
            connector.status_updated_at = at
            if status in _POWER_OFF_STATUSES:
                connector.power_w = 0 if connector.power_w is not None else None
            changed_connectors[connector.pk] = connector
            _publish_after_commit(connector_state(connector, identities[charge_point_id]))
            results.append(connector)
        rows_insert(model=ConnectorStatusChange, fields=_STATUS_CHANGE_FIELDS, rows=history)
        rows_update(model=Connector, fields=_CONNECTOR_STATUS_FIELDS, objects=changed_connectors.values())
        rows_update(
            model=ChargePoint,
            fields=("status", "error_code"),
            objects=changed_charge_points.values(),
            also={"updated_at": now},
        )
    return results


def _status_change_row(
    charge_point_id: int,
    connector_pk: int | None,
    status: str,
    error_code: str,
    info: str,
    vendor_error_code: str,
    at: datetime,
    received_at: datetime,
) -> tuple:
    # (the values _status_change_add stores, as a row for rows_insert)
    return (
        charge_point_id,
        connector_pk,
        status[:20],
        (error_code or "")[:50],
        (info or "")[:50],
        (vendor_error_code or "")[:50],
        at,
        received_at,
    )


def _status_change_add(
    charge_point_id: int,
    connector: Connector | None,
    status: str,
    error_code: str,
    info: str,
    vendor_error_code: str,
    at: datetime,
) -> None:
    ConnectorStatusChange.objects.create(
        charge_point_id=charge_point_id,
        connector=connector,
        status=status[:20],
        error_code=(error_code or "")[:50],
        info=(info or "")[:50],
        vendor_error_code=(vendor_error_code or "")[:50],
        at=at,
    )


# --- what chargers answered to commands (ocpp_consumer.answers) ---------------------


@transaction.atomic
def configuration_keys_store(*, identity: str, keys: list[dict], unknown: list[str]) -> int:
    """Store a GetConfiguration answer: each reported key with its value and readonly
    flag; keys the charger says it does not know are forgotten. Returns the keys stored."""
    charge_point = ChargePoint.objects.filter(identity=identity).only("pk").first()
    if charge_point is None:
        return 0
    stored = 0
    for entry in keys:
        name = str(entry.get("key", ""))[:50]
        if not name:
            continue
        value = entry.get("value")
        ConfigurationKey.objects.update_or_create(
            charge_point=charge_point,
            key=name,
            defaults={"value": None if value is None else str(value)[:500], "readonly": bool(entry.get("readonly"))},
        )
        stored += 1
    if unknown:
        ConfigurationKey.objects.filter(charge_point=charge_point, key__in=[str(k)[:50] for k in unknown]).delete()
    return stored


@transaction.atomic
def configuration_key_set(*, identity: str, key: str, value: str) -> None:
    """The charger accepted a ChangeConfiguration (Accepted or RebootRequired)."""
    charge_point = ChargePoint.objects.filter(identity=identity).only("pk").first()
    if charge_point is None:
        return
    ConfigurationKey.objects.update_or_create(charge_point=charge_point, key=key[:50], defaults={"value": value[:500]})


_PROFILE_STATUS = {"Accepted": ChargingProfile.Status.ACTIVE}


@transaction.atomic
def charging_profile_record_answer(
    *, identity: str, connector_id: int, profile: dict, answer_status: str | None, source: str
) -> ChargingProfile | None:
    """Record a SetChargingProfile (csChargingProfiles field names; for 2.0.1 the connector
    is the evseId and chargingSchedule may be a list) and the charger's answer.

    A caller that recorded the profile as pending before sending (the Blue Current API keeps
    its settings on that row) has its row updated; otherwise a row is created. Accepted: the
    profile is active and replaces, as on the charger, a live profile with the same id or the
    same connector, purpose and stack level. Rejected / NotSupported: rejected, the previous
    one stays. No answer (answer_status None): we do not know, so the row is pending and
    replaces a live one with the same id (only one may be live)."""
    charge_point = ChargePoint.objects.filter(identity=identity).only("pk").first()
    if charge_point is None or "chargingProfileId" not in profile:
        return None
    if answer_status is None:
        status = ChargingProfile.Status.PENDING
    else:
        status = _PROFILE_STATUS.get(answer_status, ChargingProfile.Status.REJECTED)
    live = ChargingProfile.objects.select_for_update().filter(
        charge_point=charge_point, status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE]
    )
    same_id = [row for row in live if row.profile_id == profile["chargingProfileId"]]
    pending = next((row for row in same_id if row.status == ChargingProfile.Status.PENDING), None)
    if status == ChargingProfile.Status.ACTIVE:
        replaced = [
            row.pk
            for row in live
            if row is not pending
            and (
                row.profile_id == profile["chargingProfileId"]
                or (
                    row.connector_id == connector_id
                    and row.purpose == profile.get("chargingProfilePurpose")
                    and row.stack_level == profile.get("stackLevel")
                )
            )
        ]
        ChargingProfile.objects.filter(pk__in=replaced).update(status=ChargingProfile.Status.CLEARED)
    elif status == ChargingProfile.Status.PENDING:
        ChargingProfile.objects.filter(pk__in=[row.pk for row in same_id if row is not pending]).update(
            status=ChargingProfile.Status.CLEARED
        )
    if pending is not None:
        pending.status = status
        pending.save(update_fields=["status", "updated_at"])
        return pending
    schedule = profile.get("chargingSchedule") or {}
    first_schedule = (schedule[0] if schedule else {}) if isinstance(schedule, list) else schedule
    return ChargingProfile.objects.create(
        charge_point=charge_point,
        connector_id=connector_id,
        profile_id=profile["chargingProfileId"],
        stack_level=profile.get("stackLevel", 0),
        purpose=profile.get("chargingProfilePurpose", ""),
        kind=profile.get("chargingProfileKind", ChargingProfile.Kind.ABSOLUTE),
        recurrency_kind=profile.get("recurrencyKind", ""),
        valid_from=_aware(profile.get("validFrom")),
        valid_to=_aware(profile.get("validTo")),
        charging_rate_unit=first_schedule.get("chargingRateUnit", "A"),
        schedule=schedule,
        status=status,
        source=source[:30],
    )


@transaction.atomic
def charging_profiles_record_cleared(*, identity: str, criteria: dict) -> int:
    """The charger accepted a ClearChargingProfile (OCPP 1.6 fields: id, or any of
    connectorId, chargingProfilePurpose, stackLevel; none = all; ocpp_consumer.answers puts
    a 2.0.1 one in these names): mark the matching live profiles cleared. Returns how many."""
    rows = ChargingProfile.objects.filter(
        charge_point__identity=identity, status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE]
    )
    if criteria.get("id") is not None:
        rows = rows.filter(profile_id=criteria["id"])
    else:
        if criteria.get("connectorId") is not None:
            rows = rows.filter(connector_id=criteria["connectorId"])
        if criteria.get("chargingProfilePurpose"):
            rows = rows.filter(purpose=criteria["chargingProfilePurpose"])
        if criteria.get("stackLevel") is not None:
            rows = rows.filter(stack_level=criteria["stackLevel"])
    return rows.update(status=ChargingProfile.Status.CLEARED, updated_at=timezone.now())


@transaction.atomic
def charging_profile_forget(*, profile: ChargingProfile) -> None:
    """The charger says it holds no such profile (ClearChargingProfile answered Unknown):
    the row is no longer live."""
    ChargingProfile.objects.filter(
        pk=profile.pk, status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE]
    ).update(status=ChargingProfile.Status.CLEARED, updated_at=timezone.now())


def _aware(value: str | None) -> datetime | None:
    if not value:
        return None
    from django.utils.dateparse import parse_datetime

    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- the frame journal --------------------------------------------------------------


def rows_insert(*, model: type, fields: tuple[str, ...], rows: list[tuple], ignore_conflicts: bool = False) -> None:
    """Insert many rows of plain values (`fields` are attnames: charge_point_id, ...).

    On PostgreSQL one COPY, whose rows psycopg encodes in C: a bulk_create of the same
    rows spent most of its time quoting array elements in Python (issue 3 profile). JSON
    fields take Python values (encoded here); no model save() or signals run, so use it
    only for plain append-only rows (the journal, meter samples). Elsewhere bulk_create.

    With `ignore_conflicts`, rows that break a unique constraint (a replayed reading) are
    skipped: on PostgreSQL the COPY goes into a temporary table first, then one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING (COPY itself cannot skip conflicts)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(fields, row))) for row in rows],
            batch_size=2000,
            ignore_conflicts=ignore_conflicts,
        )
        return
    meta = model._meta
    json_at = [i for i, name in enumerate(fields) if meta.get_field(name).get_internal_type() == "JSONField"]
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in fields)
    table = connection.ops.quote_name(meta.db_table)
    target = table
    if ignore_conflicts:
        target = connection.ops.quote_name(f"rows_insert_{meta.db_table}")
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if ignore_conflicts:
            _staging_table_ensure(cursor, target=target, table=table, columns=columns)
        with cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        if row[i] is not None:
                            row[i] = json.dumps(row[i], separators=(",", ":"))
                copy.write_row(row)
        if ignore_conflicts:
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {target} ON CONFLICT DO NOTHING")
            cursor.execute(f"DELETE FROM {target}")  # cheaper than TRUNCATE (a new file each time)


def rows_update(*, model: type, fields: tuple[str, ...], objects: Iterable, also: dict | None = None) -> None:
    """Write `fields` (attnames) of many already-loaded model objects, each from its own
    attribute values, plus the same `also` values on every row (e.g. updated_at).

    On PostgreSQL one UPDATE ... FROM (VALUES ...) for all of them, in primary-key order
    (a stable lock order between concurrent batches); elsewhere one UPDATE per object.
    Like rows_insert: no save() and no signals, for the hot paths' live readings."""
    objects = sorted(objects, key=lambda obj: obj.pk)
    if not objects:
        return
    also = also or {}
    if connection.vendor != "postgresql" or len(objects) == 1:
        for obj in objects:
            model.objects.filter(pk=obj.pk).update(**{name: getattr(obj, name) for name in fields}, **also)
        return
    meta = model._meta
    pk = meta.pk
    targets = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(f"%s::{field.cast_db_type(connection)}" for field in [pk, *targets]) + ")"
    # Plain attribute values go to psycopg as they are (it adapts numbers, text and aware
    # datetimes itself, in C); get_db_prep_value per value was a tenth of the frames' group
    # commit. Only JSON needs preparing.
    attnames = [field.attname for field in targets]
    prepared = [i for i, field in enumerate(targets) if field.get_internal_type() == "JSONField"]
    params: list = []
    for obj in objects:
        values = [getattr(obj, name) for name in attnames]
        for i in prepared:
            values[i] = targets[i].get_db_prep_value(values[i], connection)
        params.append(obj.pk)
        params += values
    assignments = [f"{quote(field.column)} = v.{quote(field.column)}" for field in targets]
    also_params = []
    for name, value in also.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        also_params.append(field.get_db_prep_value(value, connection))
    columns = ", ".join(quote(field.column) for field in [pk, *targets])
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS o SET {', '.join(assignments)} FROM (VALUES {', '.join([row] * len(objects))}) "
            f"AS v({columns}) WHERE o.{quote(pk.column)} = v.{quote(pk.column)}",
            [*also_params, *params],
        )


def _staging_table_ensure(cursor, *, target: str, table: str, columns: str) -> None:
    """The temporary table rows_insert COPYs into before skipping conflicts: one per
    database connection and column list, without constraints, created on first use and
    remembered once its creation is committed (a rollback undoes it)."""
    key = (target, columns)
    created = getattr(cursor.connection, "_csms_staging_tables", None)
    if created is None:
        created = set()
        cursor.connection._csms_staging_tables = created
    if key in created:
        return
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} AS SELECT {columns} FROM {table} WITH NO DATA")
    transaction.on_commit(lambda: created.add(key))


_JOURNAL_FIELDS = (
    "charge_point_id",
    "charge_point_identity",
    "direction",
    "message_type",
    "unique_id",
    "action",
    "payload",
    "raw",
    "created_at",
)


def ocpp_message_store_many(*, rows: list[dict]) -> None:
    """Store journal rows in one statement (called by the consumer's group-commit writer).
    Each row has the OcppMessage fields; the caller answers only after this returns."""
    # No savepoint of its own: inside the group commit a failure fails the whole batch,
    # which batching.GroupCommitter then retries item by item.
    with transaction.atomic(savepoint=False):
        rows_insert(
            model=OcppMessage,
            fields=_JOURNAL_FIELDS,
            rows=[
                tuple(
                    row.get(name, "") if name not in ("charge_point_id", "payload") else row.get(name)
                    for name in _JOURNAL_FIELDS
                )
                for row in rows
            ],
        )


def ocpp_message_purge(*, older_than: datetime, batch_size: int = 10_000) -> int:
    """Delete journal frames older than the cut-off, in batches to keep locks short."""
    deleted = 0
    while True:
        ids = list(OcppMessage.objects.filter(created_at__lt=older_than).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += OcppMessage.objects.filter(pk__in=ids).delete()[0]
