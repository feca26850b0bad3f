"""OCPP 1.6 StartTransactions and StopTransactions of many chargers in one go (issue 20).

One charger's start is about a dozen statements (charge_session_start), its stop about
eight; a fleet whose sessions turn over every few minutes, or that reconnects and starts at
once, sends tens of each a second, and one by one they were the web process's busiest
database work. Here the common start and stop are written set-based: a few queries and
one INSERT or UPDATE per table, whatever the number of chargers.

What needs more goes through the one-by-one service (charge_session_start,
charge_session_stop), after the set-based items of the batch, each in the same
transaction: the outcome is the same as one by one in order (the tests compare the two row
for row). Each charger sends one CALL at a time, so a batch holds at most one frame of
each; an item whose connector or transaction comes twice goes one by one all the same.
"""

from __future__ import annotations

from collections import Counter
from itertools import groupby

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chargepoints.models import Connector
from chargepoints.selectors import id_tag_info_many, id_tag_info_with_token_many
from chargepoints.services import rows_insert, rows_update
from sessions_app.meter import plausible_time
from sessions_app.models import METER_SAMPLE_FIELDS, ChargeSession, ChargingStateChange, MeterSample, StopReason
from sessions_app.services import (
    charge_session_start,
    charge_session_stop,
    connectors_for_start,
    meter_samples_store,
    session_after_close,
    session_mark_closed,
    session_new,
    session_publish,
)
from sessions_app.signals import announce_load_change
from sessions_app.timeline import charging_seconds


def charge_sessions_start_stop_many(*, items: list[tuple[str, dict]]) -> list[tuple]:
    """1.6 starts and stops of many chargers, ("start" | "stop", keyword arguments) each,
    in arrival order, in one transaction: each run of consecutive starts (or stops) is
    written together, one run after the other. One lane for both, so that a stop that frees
    a card is never overtaken by a start of the same card (answered ConcurrentTx)."""
    results: list[tuple] = []
    with transaction.atomic():
        for kind, run in groupby(items, key=lambda item: item[0]):
            many = charge_session_start_many if kind == "start" else charge_session_stop_many
            results += many(items=[kwargs for _, kwargs in run])
    return results


# --- Start -------------------------------------------------------------------------------


def charge_session_start_many(*, items: list[dict]) -> list[tuple[ChargeSession, dict]]:
    """charge_session_start for many StartTransactions, one (session, IdTagInfo) per item,
    in order. Each item has charge_session_start's keyword arguments."""
    if len(items) <= 1:
        return [charge_session_start(**item) for item in items]
    with transaction.atomic():
        now = timezone.now()
        keys = [(item["charge_point_id"], item["connector_id"]) for item in items]
        connectors = connectors_for_start(keys=set(keys))
        infos = id_tag_info_with_token_many(id_tags=[item["id_tag"] for item in items], now=now)
        twice = {key for key, n in Counter(keys).items() if n > 1}
        tags_twice = {tag for tag, n in Counter(item["id_tag"] for item in items).items() if n > 1}

        candidates: list[int] = []
        for i, item in enumerate(items):
            connector = connectors.get(keys[i])
            if connector is None or connector.reserved or item.get("reservation_id") or keys[i] in twice:
                continue
            if item["id_tag"] in tags_twice:
                continue
            _, implausible = plausible_time(
                sent=item["timestamp"], received_at=now, not_before=connector.charge_point.last_boot_at
            )
            if not implausible:
                candidates.append(i)

        # A retry of a stored start, or a session the connector never stopped: one by one.
        taken: set[int] = set()
        if candidates:
            taken = set(
                ChargeSession.objects.select_for_update()
                .filter(connector_id__in=[connectors[keys[i]].pk for i in candidates])
                .filter(
                    Q(status=ChargeSession.Status.ACTIVE)
                    | Q(started_at__in={items[i]["timestamp"] for i in candidates})
                )
                .order_by("pk")  # (rows locked in primary-key order, as rows_update does)
                .values_list("connector_id", flat=True)
            )
        fast = [i for i in candidates if connectors[keys[i]].pk not in taken]

        # A card charging elsewhere is ConcurrentTx, unless that session is on a connector
        # this batch starts on: the start there may close it first (a lost stop), which
        # only the one-by-one order decides.
        accepted = {items[i]["id_tag"] for i in fast if infos[i][0]["status"] == "Accepted"}
        busy: dict[str, set[int]] = {}
        if accepted:
            for tag, connector_id in ChargeSession.objects.filter(
                id_tag__in=accepted, status=ChargeSession.Status.ACTIVE
            ).values_list("id_tag", "connector_id"):
                busy.setdefault(tag, set()).add(connector_id)
        named = {connector.pk for connector in connectors.values()}
        fast = [i for i in fast if not busy.get(items[i]["id_tag"], set()) & named]

        results: dict[int, tuple[ChargeSession, dict]] = {}
        sessions: list[ChargeSession] = []
        for i in fast:
            item, connector = items[i], connectors[keys[i]]
            info, token = infos[i]
            if info["status"] == "Accepted" and item["id_tag"] in busy:  # (charging elsewhere)
                info["status"] = "ConcurrentTx"
            session = session_new(
                connector=connector,
                token=token,
                id_tag=item["id_tag"],
                at=item["timestamp"],
                meter_wh=item["meter_start_wh"],
                info=info,
            )
            sessions.append(session)
            results[i] = (session, info)
        if sessions:
            ChargeSession.objects.bulk_create(sessions)
            if any(session.pk is None for session in sessions):  # (a database that returns no ids)
                raise RuntimeError("bulk_create returned no primary keys")
            for session in sessions:
                session.transaction_id = str(session.pk)
            rows_update(model=ChargeSession, fields=("transaction_id",), objects=sessions)
            ChargingStateChange.objects.bulk_create(
                ChargingStateChange(session=session, at=session.started_at, charging_state=session.charging_state)
                for session in sessions
            )
            moved = []
            for session in sessions:
                connector = session.connector
                if connector.meter_wh != session.meter_start_wh:
                    connector.meter_wh = session.meter_start_wh
                    moved.append(connector)
            rows_update(model=Connector, fields=("meter_wh",), objects=moved)
            for session in sessions:
                session_publish(session.connector, session.connector.charge_point.identity, session)
            announce_load_change(*(session.charge_point_id for session in sessions))

        for i, item in enumerate(items):
            if i not in results:
                results[i] = charge_session_start(**item)
        return [results[i] for i in range(len(items))]


# --- Stop --------------------------------------------------------------------------------

# What a close writes (session_mark_closed and the charging time), and the stop's connector.
_CLOSE_FIELDS = (
    "status",
    "stopped_at",
    "stop_reason",
    "closed_by",
    "stop_id_tag",
    "meter_stop_wh",
    "meter_last_wh",
    "meter_last_at",
    "power_w",
    "time_spent_charging_s",
)


def charge_session_stop_many(*, items: list[dict]) -> list[tuple[ChargeSession | None, dict | None]]:
    """charge_session_stop for many StopTransactions, one (session, IdTagInfo) per item, in
    order. Each item has charge_session_stop's keyword arguments.

    Set-based: the stop of an active session at a plausible time (with its transactionData).
    One by one: a transaction not known, one already closed (a repeat, or a late stop after
    the server closed it), an implausible timestamp."""
    if len(items) <= 1:
        return [charge_session_stop(**item) for item in items]
    with transaction.atomic():
        now = timezone.now()
        keys = [(item["charge_point_id"], str(item["transaction_id"])) for item in items]
        twice = {key for key, n in Counter(keys).items() if n > 1}
        found = {
            (session.charge_point_id, session.transaction_id): session
            for session in ChargeSession.objects.select_for_update(of=("self", "connector"))
            .select_related("connector", "charge_point")
            .filter(charge_point_id__in={cp for cp, _ in keys}, transaction_id__in={tx for _, tx in keys})
            .order_by("pk")  # (rows locked in primary-key order, as rows_update does)
        }
        fast: list[int] = []
        for i, item in enumerate(items):
            session = found.get(keys[i])
            if session is None or session.status != ChargeSession.Status.ACTIVE or keys[i] in twice:
                continue
            _, implausible = plausible_time(sent=item["timestamp"], received_at=now, not_before=session.started_at)
            if not implausible:
                fast.append(i)
        tagged = [i for i in fast if items[i].get("id_tag")]
        infos: dict[int, dict | None] = dict.fromkeys(fast)
        infos.update(zip(tagged, id_tag_info_many(id_tags=[items[i]["id_tag"] for i in tagged], now=now)))

        sessions = [found[keys[i]] for i in fast]
        timelines: dict[int, list] = {session.pk: [] for session in sessions}
        for session_id, at, state in (
            ChargingStateChange.objects.filter(session__in=sessions)
            .order_by("session_id", "at", "id")
            .values_list("session_id", "at", "charging_state")
        ):
            timelines[session_id].append((at, state))
        samples: list[tuple] = []
        results: dict[int, tuple[ChargeSession | None, dict | None]] = {}
        for i in fast:
            item, session = items[i], found[keys[i]]
            if item.get("transaction_data"):
                meter_samples_store(
                    session.charge_point_id, session.connector, session, item["transaction_data"], samples
                )
            # OCPP 1.6: a StopTransaction without a reason means Local.
            session_mark_closed(
                session,
                at=item["timestamp"],
                reason=item.get("reason") or StopReason.LOCAL,
                closed_by=ChargeSession.ClosedBy.CHARGER,
                meter_stop_wh=item["meter_stop_wh"],
                stop_id_tag=item.get("id_tag", ""),
            )
            session.time_spent_charging_s = charging_seconds(
                timelines[session.pk], started_at=session.started_at, ended_at=session.stopped_at
            )
            session.connector.meter_wh, session.connector.power_w = item["meter_stop_wh"], 0
            results[i] = (session, infos[i])
        if sessions:
            rows_insert(model=MeterSample, fields=METER_SAMPLE_FIELDS, rows=samples, ignore_conflicts=True)
            rows_update(model=ChargeSession, fields=_CLOSE_FIELDS, objects=sessions, also={"updated_at": now})
            rows_update(model=Connector, fields=("meter_wh", "power_w"), objects=[s.connector for s in sessions])
            session_after_close(*sessions)
            for session in sessions:
                session_publish(session.connector, session.charge_point.identity, session)

        for i, item in enumerate(items):
            if i not in results:
                results[i] = charge_session_stop(**item)
        return [results[i] for i in range(len(items))]
