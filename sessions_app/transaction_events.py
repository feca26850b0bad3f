"""OCPP 2.0.1 TransactionEvent: Started / Updated / Ended onto the one ChargeSession model.

Every event is stored (TransactionEvent, unique per session and seqNo) and the session is
then *derived* from all of its events, ordered by timestamp. That makes the awkward cases
fall out of one rule instead of special code paths:

- a duplicate seqNo is answered but changes nothing (the stored event wins);
- events that arrive late (offline queue, old timestamps) are merged by timestamp: the
  session's charging state is the one of the latest event by timestamp;
- an Ended is final: an Updated that arrives after it (or carries a later timestamp) adds
  its samples but never reopens the session;
- a missing seqNo is kept as a SessionAnomaly (and a charger event) for an operator,
  updated when the missing event turns up.

Energy comes from the stored meter samples, so a late Updated with readings changes the
session's energy and the session is re-priced after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from chargepoints.device_model import connector_for_evse
from chargepoints.fanout import publish_state
from chargepoints.models import ChargePoint, ChargePointEvent, Connector, IdToken, OcppVersion
from chargepoints.selectors import id_tag_info
from chargepoints.services import connector_state, rows_insert, rows_update
from sessions_app.meter import ENERGY_REGISTER, POWER, SOC, parse_timestamp, plausible_time, readings_v201
from sessions_app.models import (
    METER_SAMPLE_FIELDS,
    ChargeSession,
    ChargingState,
    ChargingStateChange,
    MeterSample,
    RemoteStartRequest,
    SessionAnomaly,
    StopReason,
    TransactionEvent,
)
from sessions_app.reservations import REFUSED_201, reservation_check, reservation_link
from sessions_app.signals import announce_load_change, running_cost, session_completed
from sessions_app.timeline import charging_seconds

logger = logging.getLogger(__name__)

STARTED, UPDATED, ENDED = "Started", "Updated", "Ended"
# The charging states in which energy flows (or could): a session that ended without
# telling us its last state cannot still be in one of these.
_ENERGY_STATES = {ChargingState.CHARGING, ChargingState.SUSPENDED_EV, ChargingState.SUSPENDED_EVSE}
# Reasons for which the EV has gone when the transaction ends.
_EV_GONE_REASONS = {StopReason.EV_DISCONNECTED, StopReason.TIMEOUT}


@dataclass(frozen=True)
class TransactionEventOutcome:
    """What the handler needs to answer a TransactionEventRequest."""

    session_id: int
    duplicate: bool
    ended: bool
    id_token_info: dict | None = None  # camelCase OCPP IdTokenInfoType
    total_cost: Decimal | None = None  # only for an Ended transaction with a purchase
    running_cost: Decimal | None = None
    currency: str = ""
    # Applied as the next event after all before it (by seqNo and timestamp), the session
    # still open: the charger's next Updated may take the staged path (updated_record_many).
    in_order: bool = False
    timestamp: datetime | None = None


# --- id tokens ------------------------------------------------------------------------


def id_token_info_v201(*, id_token: str, token_type: str, charge_point_id: int | None = None) -> dict:
    """OCPP 2.0.1 IdTokenInfo (camelCase) for an idToken of any type.

    NoAuthorization needs no check; a Central token is one we generated for a remote
    start, so it is accepted when such a request exists and was not refused (a rejected or
    unsent start authorises nothing); everything else is a card.
    """
    if token_type == "NoAuthorization":
        return {"status": "Accepted"}
    if token_type == "Central" and charge_point_id is not None:
        requests = RemoteStartRequest.objects.filter(charge_point_id=charge_point_id, id_token=id_token)
        if requests.exclude(status=RemoteStartRequest.Status.REJECTED).exists():
            return {"status": "Accepted"}
    if not IdToken.objects.filter(uid=id_token).exists():
        return {"status": "Unknown"}
    info16 = id_tag_info(id_tag=id_token)
    info: dict[str, Any] = {"status": info16["status"]}
    if "expiryDate" in info16:
        info["cacheExpiryDateTime"] = info16["expiryDate"]
    if "parentIdTag" in info16:
        info["groupIdToken"] = {"idToken": info16["parentIdTag"], "type": "Central"}
    return info


# --- meter values -----------------------------------------------------------------------


def samples_from_meter_values(
    *,
    charge_point_id: int,
    connector_id: int | None,
    session_id: int | None,
    meter_value: Iterable[dict],
    default_context: str = "Sample.Periodic",
) -> list[MeterSample]:
    """OCPP 2.0.1 MeterValueType list -> unsaved MeterSample rows. The unit multiplier
    (a power of ten) is applied, so a stored value is in its plain unit (Wh, kWh, W, ...)."""
    return [
        MeterSample(
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            session_id=session_id,
            sampled_at=reading.at,
            measurand=reading.measurand[:50],
            phase=reading.phase[:10],
            location=reading.location[:10],
            context=reading.context[:30],
            value=reading.value,
            unit=reading.unit[:10],
        )
        for reading in readings_v201(meter_value or [], default_context=default_context)
    ]


def _to_base_unit(sample: MeterSample) -> int:
    """Wh for energy, W for power: kilo-units are scaled."""
    value = sample.value
    if sample.unit in {"kWh", "kW", "kvarh", "kvar"}:
        value = value * 1000
    return int(value.to_integral_value())


def _totals(samples: Iterable[MeterSample]) -> list[MeterSample]:
    """Samples that describe the whole outlet (no phase, location Outlet or unspecified);
    per-phase readings are kept but not summed into the session."""
    return [s for s in samples if not s.phase and s.location in {"", "Outlet"}]


# --- the service -------------------------------------------------------------------------


@transaction.atomic
def transaction_event_record(
    *,
    charge_point_id: int,
    event_type: str,
    timestamp: datetime | str,
    trigger_reason: str,
    seq_no: int,
    transaction_info: dict,
    offline: bool = False,
    id_token: dict | None = None,
    evse: dict | None = None,
    meter_value: list[dict] | None = None,
    payload: dict | None = None,
) -> TransactionEventOutcome:
    """Store one TransactionEventRequest (camelCase sub-objects as on the wire) and
    re-derive its session. Safe to call twice with the same event."""
    sent = parse_timestamp(timestamp)
    # Only a time in the future is refused here: 2.0.1 events are ordered by their
    # timestamps (with seqNo), and queued ones legitimately predate the last boot.
    timestamp, implausible = plausible_time(sent=sent, received_at=timezone.now(), not_before=None)
    transaction_id = str(transaction_info["transactionId"])
    session = _session_for(
        charge_point_id=charge_point_id, transaction_id=transaction_id, timestamp=timestamp, evse=evse
    )
    info = None
    if id_token:
        info = id_token_info_v201(
            id_token=id_token["idToken"], token_type=id_token.get("type", ""), charge_point_id=charge_point_id
        )
        if trigger_reason != "StopAuthorized":
            _honour_reservation(session, info=info, id_token=id_token["idToken"], payload=payload or {}, at=timestamp)
        _note_authorization(session, info=info, trigger_reason=trigger_reason)

    existing = TransactionEvent.objects.filter(session=session, seq_no=seq_no).first()
    if existing is not None:
        # A retry of an event whose answer was lost may come back flagged offline: same event.
        if payload is not None and _without_offline(existing.payload) != _without_offline(payload):
            ChargePointEvent.objects.create(
                charge_point_id=charge_point_id,
                kind="seq_no_reused",
                severity=ChargePointEvent.Severity.WARNING,
                message=f"Transaction {transaction_id}: seqNo {seq_no} arrived again with different content; kept the first.",
                payload={"transactionId": transaction_id, "seqNo": seq_no, "ignored": payload},
            )
        return _outcome(session, duplicate=True, id_token_info=info)

    latest = session.events.order_by("-timestamp", "-seq_no").only("timestamp", "seq_no").first()
    was_ended = session.events.filter(event_type=ENDED).exists()
    load_before = (session.status, session.charging_state)
    previous_seq_no = session.last_seq_no
    row = TransactionEvent.objects.create(
        session=session,
        seq_no=seq_no,
        event_type=event_type,
        trigger_reason=trigger_reason,
        timestamp=timestamp,
        offline=offline,
        charging_state=transaction_info.get("chargingState", ""),
        payload=payload or {},
    )
    if implausible:
        SessionAnomaly.objects.create(
            session=session,
            kind=SessionAnomaly.Kind.IMPLAUSIBLE_TIME,
            detail={
                "field": f"{event_type} seqNo {seq_no}",
                "sent": sent.isoformat(),
                "used": timestamp.isoformat(),
                "why": implausible,
            },
        )
    _note_out_of_order(
        session, seq_no=seq_no, event_type=event_type, timestamp=timestamp, latest=latest, was_ended=was_ended
    )
    samples = samples_from_meter_values(
        charge_point_id=charge_point_id,
        connector_id=session.connector_id,
        session_id=session.pk,
        meter_value=meter_value or [],
        default_context=_default_context(event_type),
    )
    MeterSample.objects.bulk_create(samples, ignore_conflicts=True)  # a reading repeated by another event: once

    in_order = latest is None or (
        timestamp >= latest.timestamp
        and seq_no > (previous_seq_no if previous_seq_no is not None else -1)
        and not was_ended
    )
    if in_order:
        # The usual case, one event after the other: apply just this one (the full
        # re-derivation reads every event and sample, too slow for long sessions).
        _apply_in_order(session, row, samples)
    else:
        _derive(session)
    # (The first event of a session can leave no gap: three queries saved per Started.)
    if latest is not None and not (in_order and previous_seq_no is not None and seq_no == previous_seq_no + 1):
        _note_seq_no_gaps(session)
    if session.remote_start_id is not None:
        _link_remote_start(session)
    _update_connector_readings(session)
    if latest is None or (session.status, session.charging_state) != load_before:
        announce_load_change(charge_point_id)
    if session.status == ChargeSession.Status.COMPLETED:
        session_id = session.pk
        answer_waits = event_type == ENDED  # (a late Updated's answer carries no price)
        transaction.on_commit(lambda: session_reprice(session_id=session_id, answer_waits=answer_waits))
    outcome = _outcome(session, duplicate=False, id_token_info=info)
    if in_order and session.status == ChargeSession.Status.ACTIVE:
        outcome = replace(outcome, in_order=True, timestamp=timestamp)
    return outcome


def _honour_reservation(session: ChargeSession, *, info: dict, id_token: str, payload: dict, at: datetime) -> None:
    """The session's first authorisation on a reserved connector: only the reserving token
    is admitted, and it uses the reservation (by the reservationId the station names, or
    the connector's)."""
    if session.authorization or session.connector_reservation_id is not None:
        return
    reservation_id = payload.get("reservationId")
    reservation = reservation_check(
        connector=session.connector,
        id_tag=id_token,
        info=info,
        at=at,
        reservation_id=reservation_id if isinstance(reservation_id, int) else None,
        refused_status=REFUSED_201,
    )
    if info.get("status") == "Accepted":
        reservation_link(session=session, reservation=reservation)


def _note_authorization(session: ChargeSession, *, info: dict, trigger_reason: str) -> None:
    """Remember whether the CSMS authorised the transaction. A token shown to stop it says
    nothing about the start; once accepted, a session stays accepted."""
    if trigger_reason == "StopAuthorized" or session.authorization == "Accepted":
        return
    session.authorization = info["status"][:20]
    ChargeSession.objects.filter(pk=session.pk).update(authorization=session.authorization)


def _without_offline(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "offline"}


def _default_context(event_type: str) -> str:
    return {STARTED: "Transaction.Begin", ENDED: "Transaction.End"}.get(event_type, "Sample.Periodic")


def _session_for(*, charge_point_id: int, transaction_id: str, timestamp: datetime, evse: dict | None) -> ChargeSession:
    """The session of a transaction, locked; created by the first event we see of it
    (which is not always its Started: an offline queue can lose or reorder events)."""
    session = (
        ChargeSession.objects.select_for_update()
        .filter(charge_point_id=charge_point_id, transaction_id=transaction_id)
        .first()
    )
    if session is not None:
        return session
    connector = _connector_for(charge_point_id=charge_point_id, evse=evse)
    _make_room(connector, starting_at=timestamp)
    started_at = timestamp
    while ChargeSession.objects.filter(connector=connector, started_at=started_at).exists():
        started_at += timedelta(microseconds=1)  # two transactions cannot start in the same instant
    try:
        with transaction.atomic():
            return ChargeSession.objects.create(
                charge_point_id=charge_point_id,
                connector=connector,
                transaction_id=transaction_id,
                ocpp_version=OcppVersion.V201,
                started_at=started_at,
                meter_start_wh=0,
            )
    except IntegrityError:  # a concurrent first event of the same transaction won
        return ChargeSession.objects.select_for_update().get(
            charge_point_id=charge_point_id, transaction_id=transaction_id
        )


def _connector_for(*, charge_point_id: int, evse: dict | None) -> Connector:
    if evse:
        return connector_for_evse(
            charge_point_id=charge_point_id, evse_id=int(evse["id"]), evse_connector_id=int(evse.get("connectorId", 1))
        )
    # evse is optional after the first event; with the Started lost we can only guess.
    connector = Connector.objects.filter(charge_point_id=charge_point_id).order_by("connector_id").first()
    return connector or connector_for_evse(charge_point_id=charge_point_id, evse_id=1, evse_connector_id=1)


def _make_room(connector: Connector, *, starting_at: datetime) -> None:
    """Only one session may be active on a connector. A new transaction means the charger
    finished the previous one without telling us: close it and say so."""
    other = (
        ChargeSession.objects.select_for_update()
        .filter(connector=connector, status=ChargeSession.Status.ACTIVE)
        .first()
    )
    if other is None:
        return
    last = other.events.order_by("-timestamp").values_list("timestamp", flat=True).first() or other.started_at
    other.status = ChargeSession.Status.COMPLETED
    other.stopped_at = max(min(starting_at, timezone.now()), last, other.started_at)
    other.closed_by = ChargeSession.ClosedBy.SERVER
    other.save(update_fields=["status", "stopped_at", "closed_by", "updated_at"])
    SessionAnomaly.objects.create(
        session=other, kind=SessionAnomaly.Kind.REPLACED, detail={"replaced_at": starting_at.isoformat()}
    )
    session_id = other.pk
    transaction.on_commit(lambda: session_reprice(session_id=session_id))


def _note_out_of_order(
    session: ChargeSession,
    *,
    seq_no: int,
    event_type: str,
    timestamp: datetime,
    latest: TransactionEvent | None,
    was_ended: bool,
) -> None:
    reasons = []
    if latest is not None and timestamp < latest.timestamp:
        reasons.append("older_than_latest")
    if session.last_seq_no is not None and seq_no < session.last_seq_no:
        reasons.append("lower_seq_no")
    if was_ended:
        reasons.append("after_ended")
    if reasons:
        SessionAnomaly.objects.create(
            session=session,
            kind=SessionAnomaly.Kind.OUT_OF_ORDER,
            detail={"seqNo": seq_no, "eventType": event_type, "timestamp": timestamp.isoformat(), "reasons": reasons},
        )


def _derive(session: ChargeSession) -> None:
    """Recompute the session from all of its events (by timestamp) and samples."""
    events = list(
        session.events.order_by("timestamp", "seq_no").only(
            "seq_no", "event_type", "timestamp", "offline", "charging_state", "payload"
        )
    )
    started = next((e for e in events if e.event_type == STARTED), None)
    ended = next((e for e in events if e.event_type == ENDED), None)

    if events:
        first = (started or events[0]).timestamp
        if (
            first != session.started_at
            and not ChargeSession.objects.filter(connector_id=session.connector_id, started_at=first)
            .exclude(pk=session.pk)
            .exists()
        ):
            session.started_at = first
    session.last_seq_no = max(e.seq_no for e in events) if events else None
    session.offline = any(e.offline for e in events)

    timeline = _state_timeline(events)
    session.charging_state = timeline[-1][1] if timeline else session.charging_state

    for event in events:
        info = event.payload.get("transactionInfo", {})
        if info.get("remoteStartId") is not None and session.remote_start_id is None:
            session.remote_start_id = info["remoteStartId"]
        if "timeSpentCharging" in info:
            session.time_spent_charging_s = info["timeSpentCharging"]
    with_token = [e for e in events if e.payload.get("idToken")]
    if with_token:
        session.id_tag = with_token[0].payload["idToken"]["idToken"][:36]
        if session.id_token_id is None:
            session.id_token = IdToken.objects.filter(uid=session.id_tag).first()
            if session.id_token is not None and session.user_id is None:
                session.user_id = session.id_token.user_id

    if ended is not None:
        stop_token = ended.payload.get("idToken") or next(
            (
                e.payload["idToken"]
                for e in reversed(events)
                if e.payload.get("triggerReason") == "StopAuthorized" and e.payload.get("idToken")
            ),
            None,
        )
        _finish(session, ended, stop_token, state_is_latest=not timeline or timeline[-1][0] <= ended.timestamp)
        if timeline and timeline[-1][1] != session.charging_state and timeline[-1][0] <= ended.timestamp:
            timeline.append((ended.timestamp, session.charging_state))  # the state the end implies, as 1.6 records it
    _store_timeline(session, timeline)
    if ended is not None:
        _charging_time(session, ended)
    _derive_energy(session)
    session.save()


def _charging_time(session: ChargeSession, ended: TransactionEvent) -> None:
    """The station's timeSpentCharging at the end when it sent one; otherwise the time in
    Charging on the state history, as for 1.6."""
    reported = ended.payload.get("transactionInfo", {}).get("timeSpentCharging")
    if reported is not None:
        session.time_spent_charging_s = reported
        return
    states = (
        ChargingStateChange.objects.filter(session=session).order_by("at", "id").values_list("at", "charging_state")
    )
    session.time_spent_charging_s = charging_seconds(states, started_at=session.started_at, ended_at=session.stopped_at)


def _finish(session: ChargeSession, ended: TransactionEvent, stop_token: dict | None, *, state_is_latest: bool) -> None:
    session.status = ChargeSession.Status.COMPLETED
    session.closed_by = ChargeSession.ClosedBy.CHARGER
    session.stopped_at = max(ended.timestamp, session.started_at)
    # stoppedReason is optional and then means a normal, local stop.
    session.stop_reason = ended.payload.get("transactionInfo", {}).get("stoppedReason", StopReason.LOCAL)
    session.stop_id_tag = stop_token["idToken"][:36] if stop_token else ""
    if not ended.charging_state and session.charging_state in _ENERGY_STATES and state_is_latest:
        session.charging_state = (
            ChargingState.IDLE if session.stop_reason in _EV_GONE_REASONS else ChargingState.EV_CONNECTED
        )


def _apply_in_order(session: ChargeSession, event: TransactionEvent, samples: list[MeterSample]) -> None:
    """Apply an event later (by timestamp and seqNo) than all before it; gives the same
    session as _derive() would (tests/ocpp_consumer/v201 checks that)."""
    info = event.payload.get("transactionInfo", {})
    session.last_seq_no = event.seq_no
    session.offline = session.offline or event.offline
    if event.charging_state and event.charging_state != session.charging_state:
        ChargingStateChange.objects.create(session=session, at=event.timestamp, charging_state=event.charging_state)
        session.charging_state = event.charging_state
    if info.get("remoteStartId") is not None and session.remote_start_id is None:
        session.remote_start_id = info["remoteStartId"]
    if "timeSpentCharging" in info:
        session.time_spent_charging_s = info["timeSpentCharging"]
    token = event.payload.get("idToken")
    if token and not session.id_tag:
        session.id_tag = token["idToken"][:36]
        if session.id_token_id is None:
            session.id_token = IdToken.objects.filter(uid=session.id_tag).first()
            if session.id_token is not None and session.user_id is None:
                session.user_id = session.id_token.user_id
    if event.event_type == ENDED:
        stop_token = token
        if not stop_token:
            for earlier in session.events.filter(trigger_reason="StopAuthorized").order_by("-timestamp", "-seq_no"):
                if earlier.payload.get("idToken"):
                    stop_token = earlier.payload["idToken"]
                    break
        state_before = session.charging_state
        _finish(session, event, stop_token, state_is_latest=True)
        if session.charging_state != state_before:  # the state the end implies, as 1.6 records it
            ChargingStateChange.objects.create(
                session=session, at=event.timestamp, charging_state=session.charging_state
            )
        _charging_time(session, event)
        _derive_energy(session)  # once per session: the stop reading, and nothing after it
    else:
        _apply_samples(session, samples)
    session.save()


def _apply_samples(session: ChargeSession, samples: list[MeterSample]) -> None:
    ordered = sorted(samples, key=lambda s: s.sampled_at)
    energy = _totals(s for s in ordered if s.measurand == ENERGY_REGISTER)
    if energy:
        if session.meter_last_wh is None:  # the first reading of the session
            begin = next((s for s in energy if s.context == "Transaction.Begin"), energy[0])
            session.meter_start_wh = _to_base_unit(begin)
        if session.meter_last_at is None or energy[-1].sampled_at >= session.meter_last_at:
            session.meter_last_wh, session.meter_last_at = _to_base_unit(energy[-1]), energy[-1].sampled_at
    power = _totals(s for s in ordered if s.measurand == POWER)
    if power:
        session.power_w = _to_base_unit(power[-1])
    soc = [s for s in ordered if s.measurand == SOC]
    if soc:
        if session.soc_start_percent is None:
            session.soc_start_percent = int(soc[0].value)
        session.soc_percent = int(soc[-1].value)


def _state_timeline(events: list[TransactionEvent]) -> list[tuple[datetime, str]]:
    timeline: list[tuple[datetime, str]] = []
    for event in events:
        if event.charging_state and (not timeline or timeline[-1][1] != event.charging_state):
            timeline.append((event.timestamp, event.charging_state))
    return timeline


def _store_timeline(session: ChargeSession, timeline: list[tuple[datetime, str]]) -> None:
    stored = list(
        ChargingStateChange.objects.filter(session=session).order_by("at", "id").values_list("at", "charging_state")
    )
    if stored == timeline[: len(stored)]:
        new = timeline[len(stored) :]
    else:  # a late event changed history: rebuild it
        ChargingStateChange.objects.filter(session=session).delete()
        new = timeline
    ChargingStateChange.objects.bulk_create(
        [ChargingStateChange(session=session, at=at, charging_state=state) for at, state in new]
    )


def _derive_energy(session: ChargeSession) -> None:
    energy = _totals(
        MeterSample.objects.filter(session=session, measurand=ENERGY_REGISTER).order_by("sampled_at", "id")
    )
    if energy:
        begin = next((s for s in energy if s.context == "Transaction.Begin"), energy[0])
        session.meter_start_wh = _to_base_unit(begin)
        session.meter_last_wh, session.meter_last_at = _to_base_unit(energy[-1]), energy[-1].sampled_at
        if session.status == ChargeSession.Status.COMPLETED:
            end = next((s for s in reversed(energy) if s.context == "Transaction.End"), None)
            if end is None:  # readings after the stop (a late Updated) are not billed
                before_stop = [s for s in energy if session.stopped_at is None or s.sampled_at <= session.stopped_at]
                end = before_stop[-1] if before_stop else energy[-1]
            session.meter_stop_wh = max(_to_base_unit(end), session.meter_start_wh)
    power = _totals(MeterSample.objects.filter(session=session, measurand=POWER).order_by("-sampled_at", "-id")[:5])
    if power:
        session.power_w = 0 if session.status == ChargeSession.Status.COMPLETED else _to_base_unit(power[0])
    soc = list(
        MeterSample.objects.filter(session=session, measurand=SOC)
        .order_by("sampled_at", "id")
        .values_list("value", flat=True)
    )
    if soc:
        session.soc_start_percent = int(soc[0])
        session.soc_percent = int(soc[-1])


def _note_seq_no_gaps(session: ChargeSession) -> None:
    """Keep one SEQ_NO_GAP anomaly per session listing the missing seqNo ranges."""
    seen = list(session.events.order_by("seq_no").values_list("seq_no", flat=True))
    started_seq = session.events.filter(event_type=STARTED).values_list("seq_no", flat=True).first()
    if started_seq is not None and seen and seen[0] < started_seq:
        seen = [n for n in seen if n >= started_seq] or seen
    missing = [[a + 1, b - 1] for a, b in zip(seen, seen[1:]) if b - a > 1]
    anomaly = session.anomalies.filter(kind=SessionAnomaly.Kind.SEQ_NO_GAP).first()
    if anomaly is None and missing:
        SessionAnomaly.objects.create(
            session=session,
            kind=SessionAnomaly.Kind.SEQ_NO_GAP,
            detail={"missing": missing, "transactionId": session.transaction_id},
        )
        ChargePointEvent.objects.create(
            charge_point_id=session.charge_point_id,
            kind="seq_no_gap",
            severity=ChargePointEvent.Severity.WARNING,
            message=f"Transaction {session.transaction_id}: seqNo missing {_ranges_text(missing)}",
            payload={"sessionId": session.pk, "transactionId": session.transaction_id, "missing": missing},
        )
    elif anomaly is not None and anomaly.detail.get("missing") != missing:
        anomaly.detail = {**anomaly.detail, "missing": missing}
        if not missing:
            anomaly.detail["filled_at"] = timezone.now().isoformat()
        anomaly.save(update_fields=["detail"])


def _ranges_text(ranges: list[list[int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def _link_remote_start(session: ChargeSession) -> None:
    request = RemoteStartRequest.objects.filter(
        charge_point_id=session.charge_point_id, pk=session.remote_start_id
    ).first()
    if request is None or (request.session_id is not None and request.session_id != session.pk):
        return
    request.session = session
    request.status = RemoteStartRequest.Status.STARTED
    request.transaction_id = session.transaction_id
    request.save(update_fields=["session", "status", "transaction_id"])
    if request.user_id and session.user_id != request.user_id:
        ChargeSession.objects.filter(pk=session.pk).update(user_id=request.user_id)
        session.user_id = request.user_id


def _update_connector_readings(session: ChargeSession) -> None:
    if session.status == ChargeSession.Status.ACTIVE:
        Connector.objects.filter(pk=session.connector_id).update(
            power_w=session.power_w, meter_wh=session.meter_last_wh, soc_percent=session.soc_percent
        )
    _publish(session)


def _publish(session: ChargeSession) -> None:
    """Live state for dashboards and drivers (cp.<identity>), after commit, as for 1.6."""
    from chargepoints.fanout import publish_state
    from chargepoints.services import connector_state

    connector = Connector.objects.select_related("charge_point").get(pk=session.connector_id)
    state = connector_state(
        connector,
        connector.charge_point.identity,
        session_id=session.pk,
        transaction_id=session.transaction_id,
        charging_state=session.charging_state,
        session_status=session.status,
    )
    transaction.on_commit(lambda: publish_state(state))


# --- the next Updated of many transactions at once ----------------------------------------

_EVENT_FIELDS = (
    "session_id",
    "seq_no",
    "event_type",
    "trigger_reason",
    "timestamp",
    "offline",
    "charging_state",
    "payload",
    "received_at",
)
_SESSION_UPDATED_FIELDS = (
    "last_seq_no",
    "time_spent_charging_s",
    "meter_start_wh",
    "meter_last_wh",
    "meter_last_at",
    "power_w",
    "soc_percent",
    "soc_start_percent",
)


# What the charger's connection adds to transaction_event_record's arguments: its identity
# (for the live state) and the timestamp of the last event it saw applied in order.
_STAGING_KEYS = ("identity", "previous_timestamp")


def updated_may_be_staged(*, event_type: str, payload: dict) -> bool:
    """Whether a TransactionEvent can go to updated_record_many, judged from the frame alone
    (the charger's connection also checks that it follows the last event it applied): an
    Updated that authorises nothing, reserves nothing, was not queued offline and changes
    no charging state is only new readings, the bulk of a 2.0.1 fleet's traffic."""
    return (
        event_type == UPDATED
        and not payload.get("offline")
        and not payload.get("idToken")
        and payload.get("reservationId") is None
    )


def updated_record_many(items: list[dict]) -> None:
    """Store the next Updated event of many transactions with a handful of statements: the
    event rows and their samples inserted together, each session's and connector's live
    readings in one UPDATE each. Runs staged in the frames' group commit (each item is a
    transaction_event_record call's arguments plus `identity`).

    The result is the session transaction_event_record's in-order path gives (tests check
    both ways give the same rows). An item is only taken here when the stored session
    agrees that it comes next: open, its last seqNo the one before, the same charging
    state, a plausible time, no remote start to link for the first time. Any other item
    goes through transaction_event_record in the same transaction."""
    if not items:
        return
    keys = {(item["charge_point_id"], str(item["transaction_info"]["transactionId"])) for item in items}
    # Locked, as transaction_event_record locks its session: a server-side close that
    # commits meanwhile is seen (the session is then no longer open: the slow path).
    # Primary-key order: the lock order of the other set-based updates.
    sessions = {
        (s.charge_point_id, s.transaction_id): s
        for s in ChargeSession.objects.select_for_update(of=("self",))
        .filter(charge_point_id__in={cp for cp, _ in keys}, transaction_id__in={tx for _, tx in keys})
        .order_by("pk")
        if (s.charge_point_id, s.transaction_id) in keys
    }
    received_at = timezone.now()
    events: list[tuple] = []
    samples: list[tuple] = []
    touched: dict[int, tuple[ChargeSession, str]] = {}
    for item in items:
        session = sessions.get((item["charge_point_id"], str(item["transaction_info"]["transactionId"])))
        if session is None or not _follows(session, item, received_at):
            with transaction.atomic():
                fields = {key: value for key, value in item.items() if key not in _STAGING_KEYS}
                transaction_event_record(**fields)
            sessions.pop((item["charge_point_id"], str(item["transaction_info"]["transactionId"])), None)
            continue
        timestamp, info, payload = item["timestamp"], item["transaction_info"], item["payload"]
        events.append(
            (
                session.pk,
                item["seq_no"],
                UPDATED,
                item["trigger_reason"],
                timestamp,
                False,
                info.get("chargingState", ""),
                payload,
                received_at,
            )
        )
        rows = samples_from_meter_values(
            charge_point_id=session.charge_point_id,
            connector_id=session.connector_id,
            session_id=session.pk,
            meter_value=item.get("meter_value") or [],
            default_context=_default_context(UPDATED),
        )
        samples += [tuple(getattr(row, name) for name in METER_SAMPLE_FIELDS) for row in rows]
        session.last_seq_no = item["seq_no"]
        if "timeSpentCharging" in info:
            session.time_spent_charging_s = info["timeSpentCharging"]
        _apply_samples(session, rows)
        if session.remote_start_id is not None:
            _link_remote_start(session)
        touched[session.pk] = (session, item.get("identity", ""))
    if not touched:
        return
    rows_insert(model=TransactionEvent, fields=_EVENT_FIELDS, rows=events)
    rows_insert(model=MeterSample, fields=METER_SAMPLE_FIELDS, rows=samples, ignore_conflicts=True)
    rows_update(
        model=ChargeSession,
        fields=_SESSION_UPDATED_FIELDS,
        objects=[session for session, _ in touched.values()],
        also={"updated_at": received_at},
    )
    connectors = Connector.objects.in_bulk([session.connector_id for session, _ in touched.values()])
    for session, _ in touched.values():
        connector = connectors[session.connector_id]
        connector.power_w, connector.meter_wh, connector.soc_percent = (
            session.power_w,
            session.meter_last_wh,
            session.soc_percent,
        )
    rows_update(model=Connector, fields=("power_w", "meter_wh", "soc_percent"), objects=connectors.values())
    for session, identity in touched.values():
        state = connector_state(
            connectors[session.connector_id],
            identity or ChargePoint.objects.values_list("identity", flat=True).get(pk=session.charge_point_id),
            session_id=session.pk,
            transaction_id=session.transaction_id,
            charging_state=session.charging_state,
            session_status=session.status,
        )
        transaction.on_commit(lambda state=state: publish_state(state))


def _follows(session: ChargeSession, item: dict, now: datetime) -> bool:
    """The stored session agrees that this Updated is simply the next event (see
    updated_record_many)."""
    info = item["transaction_info"]
    previous = item.get("previous_timestamp")
    if previous is None or item["timestamp"] < previous:
        return False
    _, implausible = plausible_time(sent=item["timestamp"], received_at=now, not_before=None)
    return (
        session.status == ChargeSession.Status.ACTIVE
        and session.ocpp_version == OcppVersion.V201
        and session.last_seq_no is not None
        and item["seq_no"] == session.last_seq_no + 1
        and not implausible
        and info.get("chargingState", session.charging_state) in {"", session.charging_state}
        and info.get("remoteStartId") in {None, session.remote_start_id}
    )


# --- price -------------------------------------------------------------------------------


def session_reprice(*, session_id: int, answer_waits: bool = False) -> None:
    """(Re)price a completed session. A failure in billing must not break the charger's
    answer, so it is logged, not raised. `answer_waits`: the answer being built carries the
    price (an Ended's totalCost), so price it now; otherwise the worker may."""
    try:
        session_completed.send(sender=ChargeSession, session_ids=[session_id], answer_waits=answer_waits)
    except Exception:
        logger.exception("pricing session %s failed", session_id)


def _outcome(session: ChargeSession, *, duplicate: bool, id_token_info: dict | None) -> TransactionEventOutcome:
    ended = session.status == ChargeSession.Status.COMPLETED
    return TransactionEventOutcome(session_id=session.pk, duplicate=duplicate, ended=ended, id_token_info=id_token_info)


def transaction_event_costs(*, outcome: TransactionEventOutcome) -> TransactionEventOutcome:
    """Add the costs to an outcome; call after commit, when the session has been priced."""
    session = ChargeSession.objects.get(pk=outcome.session_id)
    if outcome.ended:
        purchase = _purchase_of(session)
        if purchase is None:
            return outcome
        return replace(outcome, total_cost=purchase.total_price, currency=purchase.currency)
    try:
        cost = running_cost(session=session)
    except Exception:
        logger.exception("running cost of session %s failed", session.pk)
        return outcome
    if cost is None:
        return outcome
    from django.conf import settings

    amount, currency = (
        cost if isinstance(cost, tuple) else (getattr(cost, "amount", cost), getattr(cost, "currency", ""))
    )
    return replace(outcome, running_cost=Decimal(amount), currency=currency or settings.PRICE_CURRENCY)


def _purchase_of(session: ChargeSession):
    try:
        return session.purchase
    except Exception:  # RelatedObjectDoesNotExist
        return None


def transaction_event_handle(**kwargs) -> TransactionEventOutcome:
    """Record the event (one transaction; pricing runs on commit), then read the costs.
    Call outside any atomic block so the purchase exists when the costs are read."""
    outcome = transaction_event_record(**kwargs)
    return transaction_event_costs(outcome=outcome)


# --- reads for operators --------------------------------------------------------------------


def session_missing_seq_nos(*, session: ChargeSession) -> list[list[int]]:
    anomaly = session.anomalies.filter(kind=SessionAnomaly.Kind.SEQ_NO_GAP).first()
    return anomaly.detail.get("missing", []) if anomaly else []


def remote_start_request_add(
    *,
    charge_point: ChargePoint,
    id_token: str,
    id_token_type: str = "Central",
    evse_id: int | None = None,
    user_id: int | None = None,
) -> RemoteStartRequest:
    """Record a start request before it is sent; its pk is the remoteStartId."""
    return RemoteStartRequest.objects.create(
        charge_point=charge_point, id_token=id_token[:36], id_token_type=id_token_type, evse_id=evse_id, user_id=user_id
    )


def remote_start_request_answered(*, remote_start_id: int, status: str, transaction_id: str = "") -> None:
    new = RemoteStartRequest.Status.ACCEPTED if status == "Accepted" else RemoteStartRequest.Status.REJECTED
    RemoteStartRequest.objects.filter(pk=remote_start_id, status=RemoteStartRequest.Status.SENT).update(
        status=new, transaction_id=(transaction_id or "")[:36]
    )
