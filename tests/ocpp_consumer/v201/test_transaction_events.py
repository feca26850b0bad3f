"""The 2.0.1 TransactionEvent service: Started/Updated/Ended onto ChargeSession."""

from __future__ import annotations

import pytest

from chargepoints.models import ChargePointEvent
from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample, SessionAnomaly, TransactionEvent
from sessions_app.transaction_events import remote_start_request_add, transaction_event_handle
from tests.factories import ChargePointFactory, IdTokenFactory
from tests.ocpp_consumer.v201.frames import event, kwargs_of, ts

pytestmark = pytest.mark.django_db(transaction=True)


def send(cp, payload):
    return transaction_event_handle(charge_point_id=cp.pk, **kwargs_of(payload))


def full_session():
    return [
        event("Started", 0, 0, "CablePluggedIn", state="EVConnected", wh=1000),
        event("Updated", 1, 1, "Authorized", id_token="CARD-1"),
        event("Updated", 2, 2, "ChargingStateChanged", state="Charging"),
        event("Updated", 3, 17, "MeterValuePeriodic", wh=4000, power_w=11000),
        event("Updated", 4, 30, "ChargingStateChanged", state="SuspendedEV"),
        event("Updated", 5, 35, "ChargingStateChanged", state="Charging"),
        event("Ended", 6, 60, "EVCommunicationLost", state="Idle", reason="EVDisconnected", wh=12000),
    ]


def test_it_runs_a_full_session_through_every_charging_state():
    cp = ChargePointFactory(protocol="ocpp2.0.1")
    token = IdTokenFactory(uid="CARD-1")
    outcomes = [send(cp, p) for p in full_session()]
    session = ChargeSession.objects.get(charge_point=cp, transaction_id="TX-1")
    assert session.status == "completed" and session.closed_by == "charger"
    assert session.ocpp_version == "ocpp2.0.1"
    assert session.stop_reason == "EVDisconnected"
    assert session.charging_state == "Idle"
    assert session.meter_start_wh == 1000 and session.meter_stop_wh == 12000 and session.energy_wh == 11000
    assert session.id_tag == "CARD-1" and session.id_token == token and session.user == token.user
    assert session.last_seq_no == 6 and not session.offline
    assert session.started_at.isoformat().startswith("2026-03-01T09:00")
    states = list(ChargingStateChange.objects.filter(session=session).values_list("charging_state", flat=True))
    assert states == ["EVConnected", "Charging", "SuspendedEV", "Charging", "Idle"]
    assert outcomes[1].id_token_info == {"status": "Accepted"}
    assert outcomes[-1].ended and not outcomes[0].ended
    assert not SessionAnomaly.objects.filter(session=session).exists()


def test_a_duplicate_seq_no_changes_nothing_and_is_still_answered():
    cp = ChargePointFactory()
    IdTokenFactory(uid="CARD-1")
    events = full_session()
    for p in events[:4]:
        send(cp, p)
    session = ChargeSession.objects.get(transaction_id="TX-1")
    before = (
        session.meter_last_wh,
        session.charging_state,
        MeterSample.objects.count(),
        TransactionEvent.objects.count(),
    )
    again = send(cp, events[1])
    assert again.duplicate and again.id_token_info == {"status": "Accepted"}
    # the same seqNo with other content is ignored too, but an operator hears of it
    altered = dict(events[3], meterValue=events[3]["meterValue"][:0] or [])
    altered["transactionInfo"] = {"transactionId": "TX-1", "chargingState": "SuspendedEVSE"}
    assert send(cp, altered).duplicate
    session.refresh_from_db()
    after = (
        session.meter_last_wh,
        session.charging_state,
        MeterSample.objects.count(),
        TransactionEvent.objects.count(),
    )
    assert before == after
    assert ChargePointEvent.objects.filter(kind="seq_no_reused").count() == 1


def test_a_gap_is_recorded_and_filled_when_the_missing_event_arrives():
    cp = ChargePointFactory()
    events = full_session()
    for p in [events[0], events[1], events[4]]:
        send(cp, p)
    anomaly = SessionAnomaly.objects.get(kind="seq_no_gap")
    assert anomaly.detail["missing"] == [[2, 3]]
    assert ChargePointEvent.objects.filter(kind="seq_no_gap").exists()
    send(cp, events[2])
    send(cp, events[3])
    anomaly.refresh_from_db()
    assert anomaly.detail["missing"] == [] and "filled_at" in anomaly.detail


def test_events_out_of_order_are_merged_by_timestamp():
    cp = ChargePointFactory()
    events = full_session()
    order = [0, 1, 2, 6, 4, 3, 5]  # the Ended arrives before three Updated
    for i in order:
        send(cp, events[i])
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.status == "completed"  # an Updated after the Ended does not reopen it
    assert session.charging_state == "Idle" and session.stop_reason == "EVDisconnected"
    assert session.meter_stop_wh == 12000
    states = list(ChargingStateChange.objects.filter(session=session).values_list("charging_state", flat=True))
    assert states == ["EVConnected", "Charging", "SuspendedEV", "Charging", "Idle"]
    assert SessionAnomaly.objects.filter(session=session, kind="out_of_order").count() == 3


def test_an_updated_stamped_after_the_ended_does_not_reopen_the_session():
    cp = ChargePointFactory()
    send(cp, event("Started", 0, 0, "Authorized", state="Charging", wh=0))
    send(cp, event("Ended", 1, 10, "StopAuthorized", reason="Local", wh=5000))
    send(cp, event("Updated", 2, 12, "MeterValuePeriodic", state="EVConnected", wh=5200))
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.status == "completed" and session.stopped_at.isoformat().startswith("2026-03-01T09:10")
    assert session.meter_stop_wh == 5000  # readings after the stop are not billed
    assert session.charging_state == "EVConnected"  # the latest event by timestamp


def test_an_offline_queue_with_old_timestamps_is_applied_and_marked():
    cp = ChargePointFactory()
    events = [dict(p, offline=True) for p in full_session()]
    for p in events:
        send(cp, p)
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.offline and session.status == "completed" and session.energy_wh == 11000
    assert TransactionEvent.objects.filter(session=session, offline=True).count() == 7


def test_a_session_first_seen_through_its_ended_event_is_created_completed():
    cp = ChargePointFactory()
    send(cp, event("Ended", 5, 30, "EVCommunicationLost", reason="PowerLoss", wh=3000))
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.status == "completed" and session.stop_reason == "PowerLoss"
    assert (
        SessionAnomaly.objects.filter(session=session, kind="seq_no_gap").count() == 0
    )  # only one event: no gap known


@pytest.mark.parametrize(
    "reason",
    [
        "DeAuthorized",
        "EmergencyStop",
        "EnergyLimitReached",
        "EVDisconnected",
        "GroundFault",
        "ImmediateReset",
        "Local",
        "LocalOutOfCredit",
        "MasterPass",
        "Other",
        "OvercurrentFault",
        "PowerLoss",
        "PowerQuality",
        "Reboot",
        "Remote",
        "SOCLimitReached",
        "StoppedByEV",
        "TimeLimitReached",
        "Timeout",
    ],
)
def test_each_stopped_reason_shows_on_the_session(reason):
    cp = ChargePointFactory()
    send(cp, event("Started", 0, 0, "Authorized", state="Charging", wh=0))
    send(cp, event("Ended", 1, 5, "StopAuthorized", reason=reason, wh=100))
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.stop_reason == reason and session.status == "completed"
    assert session.charging_state in {"Idle", "EVConnected"}


def test_no_stopped_reason_means_a_local_stop():
    cp = ChargePointFactory()
    send(cp, event("Started", 0, 0, "Authorized", wh=0))
    send(cp, event("Ended", 1, 5, "StopAuthorized", wh=100))
    assert ChargeSession.objects.get(transaction_id="TX-1").stop_reason == "Local"


def test_a_session_started_connected_but_not_charging_shows_ev_connected():
    cp = ChargePointFactory()
    send(cp, event("Started", 0, 0, "CablePluggedIn", state="EVConnected"))
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.is_active and session.charging_state == "EVConnected"
    send(cp, event("Updated", 1, 3, "ChargingStateChanged", state="SuspendedEVSE"))
    session.refresh_from_db()
    assert session.charging_state == "SuspendedEVSE"


def test_remote_start_id_links_the_session_to_the_request_and_its_driver():
    cp = ChargePointFactory()
    token = IdTokenFactory(uid="APP-42")
    request = remote_start_request_add(
        charge_point=cp, id_token="APP-42", id_token_type="Central", evse_id=1, user_id=token.user_id
    )
    out = send(cp, event("Started", 0, 0, "RemoteStart", id_token="APP-42", remote_start_id=request.pk))
    session = ChargeSession.objects.get(transaction_id="TX-1")
    request.refresh_from_db()
    assert session.remote_start_id == request.pk and request.session == session and request.status == "started"
    assert session.user_id == token.user_id
    assert out.id_token_info["status"] == "Accepted"


def test_an_unknown_id_token_is_answered_unknown():
    cp = ChargePointFactory()
    out = send(cp, event("Started", 0, 0, "Authorized", id_token="NOBODY"))
    assert out.id_token_info == {"status": "Unknown"}


def test_a_new_transaction_on_a_busy_connector_closes_the_lost_one():
    cp = ChargePointFactory()
    send(cp, event("Started", 0, 0, "Authorized", tx="A", wh=0))
    send(cp, event("Started", 0, 30, "Authorized", tx="B", wh=0))
    a = ChargeSession.objects.get(transaction_id="A")
    assert a.status == "completed" and a.closed_by == "server"
    assert SessionAnomaly.objects.filter(session=a, kind="replaced").exists()
    assert ChargeSession.objects.get(transaction_id="B").is_active
    # A's Ended arrives late: the charger's word replaces ours
    send(cp, event("Ended", 1, 20, "StopAuthorized", tx="A", reason="Local", wh=2000))
    a.refresh_from_db()
    assert a.closed_by == "charger" and a.meter_stop_wh == 2000


def test_multiplier_and_kwh_units_are_normalised():
    cp = ChargePointFactory()
    p = event("Started", 0, 0, "Authorized")
    p["meterValue"] = [
        {
            "timestamp": ts(0),
            "sampledValue": [{"value": 12.5, "context": "Transaction.Begin", "unitOfMeasure": {"unit": "kWh"}}],
        }
    ]
    send(cp, p)
    q = event("Ended", 1, 10, "StopAuthorized")
    q["meterValue"] = [
        {
            "timestamp": ts(10),
            "sampledValue": [
                {"value": 14, "context": "Transaction.End", "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}
            ],
        }
    ]
    send(cp, q)
    session = ChargeSession.objects.get(transaction_id="TX-1")
    assert session.meter_start_wh == 12500 and session.meter_stop_wh == 14000


def _fields(session):
    return {
        f: getattr(session, f)
        for f in (
            "status",
            "started_at",
            "stopped_at",
            "meter_start_wh",
            "meter_stop_wh",
            "meter_last_wh",
            "soc_start_percent",
            "soc_percent",
            "power_w",
            "charging_state",
            "stop_reason",
            "stop_id_tag",
            "closed_by",
            "last_seq_no",
            "offline",
            "id_tag",
            "id_token_id",
            "user_id",
            "remote_start_id",
            "time_spent_charging_s",
        )
    }


@pytest.mark.parametrize("upto", [1, 3, 4, 7])
def test_applying_events_in_order_gives_what_the_full_derivation_gives(upto):
    from sessions_app.transaction_events import _derive

    cp = ChargePointFactory()
    IdTokenFactory(uid="CARD-1")
    events = full_session()[:upto]
    events[-1]["transactionInfo"]["timeSpentCharging"] = 1234
    for p in events:
        p["meterValue"] = (p.get("meterValue") or []) + [
            {
                "timestamp": p["timestamp"],
                "sampledValue": [{"value": 40 + p["seqNo"], "measurand": "SoC", "location": "EV"}],
            }
        ]
        send(cp, p)
    session = ChargeSession.objects.get(transaction_id="TX-1")
    timeline = list(ChargingStateChange.objects.filter(session=session).values_list("at", "charging_state"))
    incremental = _fields(session)
    _derive(session)
    session.refresh_from_db()
    assert _fields(session) == incremental
    assert list(ChargingStateChange.objects.filter(session=session).values_list("at", "charging_state")) == timeline
