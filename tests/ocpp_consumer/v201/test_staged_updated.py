"""The next Updated of a transaction is staged into the frames' group commit
(transaction_events.updated_record_many) instead of a service call of its own (issue 20:
a 2.0.1 fleet's TransactionEvent Updated frames queued on the one service thread). It must
store exactly what transaction_event_record stores, and hand anything that is not simply
"the next event" back to it."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import Connector, OcppMessage
from sessions_app import transaction_events
from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample, TransactionEvent
from sessions_app.transaction_events import transaction_event_record
from tests.factories import ChargePointFactory, IdTokenFactory
from tests.ocpp_consumer.v201.frames import event, kwargs_of
from tests.ocpp_consumer.v201.test_handlers import FakeConsumer, call

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_FIELDS = (
    "status",
    "charging_state",
    "last_seq_no",
    "meter_start_wh",
    "meter_last_wh",
    "meter_last_at",
    "meter_stop_wh",
    "power_w",
    "soc_percent",
    "soc_start_percent",
    "time_spent_charging_s",
    "stop_reason",
    "started_at",
    "stopped_at",
    "authorization",
    "id_tag",
    "offline",
)


def with_readings(payload: dict, *, soc: int, power_w: float, seconds: int) -> dict:
    """Add SoC, power and timeSpentCharging to an event's readings."""
    sampled = payload["meterValue"][0]["sampledValue"]
    context = sampled[0]["context"]
    sampled.append({"value": soc, "context": context, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}})
    sampled.append(
        {"value": power_w, "context": context, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}
    )
    payload["transactionInfo"]["timeSpentCharging"] = seconds
    return payload


def a_session() -> list[dict]:
    frames = [event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=1000)]
    frames += [
        with_readings(
            event("Updated", n, n, "MeterValuePeriodic", state="Charging", wh=1000 + 150 * n, evse=None),
            soc=20 + n,
            power_w=7000 + n,
            seconds=60 * n,
        )
        for n in range(1, 7)
    ]
    frames.append(event("Ended", 7, 7, "EVCommunicationLost", state="EVConnected", reason="EVDisconnected", wh=2100))
    return frames


def snapshot(charge_point_id: int) -> dict:
    session = ChargeSession.objects.get(charge_point_id=charge_point_id)
    connector = Connector.objects.get(pk=session.connector_id)
    return {
        "session": {name: getattr(session, name) for name in SESSION_FIELDS},
        "connector": (connector.power_w, connector.meter_wh, connector.soc_percent),
        "events": list(
            TransactionEvent.objects.filter(session=session)
            .order_by("seq_no")
            .values_list("seq_no", "event_type", "trigger_reason", "timestamp", "offline", "charging_state", "payload")
        ),
        "samples": sorted(
            MeterSample.objects.filter(session=session).values_list(
                "sampled_at", "measurand", "phase", "location", "context", "value", "unit", "connector__connector_id"
            )
        ),
        "states": list(
            ChargingStateChange.objects.filter(session=session).order_by("at", "id").values_list("at", "charging_state")
        ),
        "anomalies": sorted(
            (kind, sorted(detail.get("reasons", [])))
            for kind, detail in session.anomalies.values_list("kind", "detail")
        ),
    }


async def station():
    cp = await sync_to_async(ChargePointFactory)(protocol="ocpp2.0.1")
    consumer = FakeConsumer()
    from ocpp_consumer.v201.central_system import CentralSystem201

    return cp, consumer, CentralSystem201(cp.identity, consumer, cp.pk, cp.registration_status)


@pytest.fixture
def record_calls(monkeypatch):
    """Count the TransactionEvents that went through transaction_event_record."""
    calls: list[int] = []

    def counting(**kwargs):
        calls.append(kwargs["seq_no"])
        return transaction_event_record(**kwargs)

    monkeypatch.setattr(transaction_events, "transaction_event_record", counting)
    return calls


async def test_staged_updated_events_store_what_the_service_stores(settings, record_calls):
    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 3600
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    staged_cp, consumer, handler = await station()
    for n, payload in enumerate(a_session()):
        answer = await call(handler, consumer, "TransactionEvent", payload, str(n))
        assert answer[0] == 3, answer
    # Only the Started and the Ended went through the service; the six Updated were staged.
    assert record_calls == [0, 7]

    direct_cp = await sync_to_async(ChargePointFactory)(protocol="ocpp2.0.1")
    for payload in a_session():
        await sync_to_async(transaction_event_record)(charge_point_id=direct_cp.pk, **kwargs_of(payload))

    staged, direct = await sync_to_async(snapshot)(staged_cp.pk), await sync_to_async(snapshot)(direct_cp.pk)
    assert staged["session"]["last_seq_no"] == 7 and staged["session"]["soc_percent"] == 26
    assert staged == direct


async def test_the_live_readings_of_a_staged_updated_are_stored_before_the_answer(settings, record_calls):
    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 3600
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    cp, consumer, handler = await station()
    frames = a_session()
    for n, payload in enumerate(frames[:4]):
        await call(handler, consumer, "TransactionEvent", payload, str(n))
    assert record_calls == [0]
    session = await sync_to_async(ChargeSession.objects.get)(charge_point=cp)
    connector = await sync_to_async(Connector.objects.get)(pk=session.connector_id)
    assert (session.meter_last_wh, session.power_w, session.soc_percent, session.last_seq_no) == (1450, 7003, 23, 3)
    assert session.time_spent_charging_s == 180 and session.soc_start_percent == 21
    assert (connector.meter_wh, connector.power_w, connector.soc_percent) == (1450, 7003, 23)
    # Each staged frame was journalled with its answer in the same commit.
    journal = await sync_to_async(list)(
        OcppMessage.objects.filter(charge_point=cp, action="TransactionEvent").values_list("direction", flat=True)
    )
    assert sorted(journal) == ["in"] * 4 + ["out"] * 4


async def test_anything_but_the_plain_next_event_goes_through_the_service(settings, record_calls):
    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 3600
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    _, consumer, handler = await station()
    frames = [
        event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=1000),
        event("Updated", 1, 1, "MeterValuePeriodic", state="Charging", wh=1100),  # staged
        event("Updated", 2, 2, "ChargingStateChanged", state="SuspendedEV", wh=1200),  # a new state
        event("Updated", 3, 3, "MeterValuePeriodic", state="SuspendedEV", wh=1200),  # staged
        event("Updated", 5, 5, "MeterValuePeriodic", state="SuspendedEV", wh=1300),  # a gap
        event("Updated", 6, 4.5, "MeterValuePeriodic", state="SuspendedEV", wh=1300),  # older than the last
        event("Updated", 7, 6, "MeterValuePeriodic", state="SuspendedEV", wh=1400, offline=True),  # offline
        event("Updated", 8, 7, "StopAuthorized", id_token="CARD-1"),  # a token
        event("Updated", 8, 7, "StopAuthorized", id_token="CARD-1"),  # a replay
    ]
    for n, payload in enumerate(frames):
        answer = await call(handler, consumer, "TransactionEvent", payload, str(n))
        assert answer[0] == 3, answer
    assert record_calls == [0, 2, 5, 6, 7, 8, 8]
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id="TX-1")
    assert session.last_seq_no == 8 and session.meter_last_wh == 1400
    assert await sync_to_async(TransactionEvent.objects.filter(session=session).count)() == 8


async def test_a_staged_updated_the_database_disagrees_with_is_recorded_by_the_service(settings, record_calls):
    """The connection believed the Updated comes next, but the session was closed by the
    server meanwhile: the flush hands it to transaction_event_record, which keeps the
    closed session closed."""
    from sessions_app.services import charge_session_close_by_server

    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 3600
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    _, consumer, handler = await station()
    frames = a_session()
    await call(handler, consumer, "TransactionEvent", frames[0], "0")
    await call(handler, consumer, "TransactionEvent", frames[1], "1")
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id="TX-1")
    await sync_to_async(charge_session_close_by_server)(session_id=session.pk, reason="Other")
    answer = await call(handler, consumer, "TransactionEvent", frames[2], "2")
    assert answer[0] == 3
    assert record_calls == [0, 2]
    session = await sync_to_async(ChargeSession.objects.get)(pk=session.pk)
    assert session.status == ChargeSession.Status.COMPLETED
    assert await sync_to_async(TransactionEvent.objects.filter(session=session, seq_no=2).exists)()


async def test_a_failed_staged_write_is_answered_with_an_error_and_the_resend_is_stored(settings, monkeypatch):
    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 3600
    await sync_to_async(IdTokenFactory)(uid="CARD-1")
    _, consumer, handler = await station()
    frames = a_session()
    await call(handler, consumer, "TransactionEvent", frames[0], "0")
    real = transaction_events.updated_record_many

    def failing(items):
        raise RuntimeError("disk full")

    monkeypatch.setattr(transaction_events, "updated_record_many", failing)
    answer = await call(handler, consumer, "TransactionEvent", frames[1], "1")
    assert answer[0] == 4 and answer[2] == "InternalError"
    monkeypatch.setattr(transaction_events, "updated_record_many", real)
    answer = await call(handler, consumer, "TransactionEvent", frames[1], "1b")  # the charger resends
    assert answer[0] == 3
    session = await sync_to_async(ChargeSession.objects.get)(transaction_id="TX-1")
    assert session.last_seq_no == 1 and session.meter_last_wh == 1150


async def test_after_a_clock_step_back_older_events_are_not_staged(settings, record_calls):
    """Event 2 is stamped before event 1 (the charger's clock stepped back): it and every
    later event stamped before event 1 go through the service, which marks them out of
    order, exactly as without staging."""
    settings.OCPP_RUNNING_COST_EVERY_SECONDS = 3600
    await sync_to_async(IdTokenFactory)(uid="CARD-1")

    def frames():
        return [
            event("Started", 0, 0, "Authorized", id_token="CARD-1", state="Charging", wh=1000),
            event("Updated", 1, 10, "MeterValuePeriodic", state="Charging", wh=1100, power_w=7000),
            event("Updated", 2, 5, "MeterValuePeriodic", state="Charging", wh=1050, power_w=5000),
            event("Updated", 3, 7, "MeterValuePeriodic", state="Charging", wh=1080, power_w=6000),
            event("Updated", 4, 12, "MeterValuePeriodic", state="Charging", wh=1200, power_w=7100),
        ]

    staged_cp, consumer, handler = await station()
    for n, payload in enumerate(frames()):
        assert (await call(handler, consumer, "TransactionEvent", payload, str(n)))[0] == 3
    # 1 is staged; 2 and 3 are older than 1; 4 follows events the service applied out of
    # order, so the connection holds no in-order record of the transaction: the service too.
    assert record_calls == [0, 2, 3, 4]
    direct_cp = await sync_to_async(ChargePointFactory)(protocol="ocpp2.0.1")
    for payload in frames():
        await sync_to_async(transaction_event_record)(charge_point_id=direct_cp.pk, **kwargs_of(payload))
    staged, direct = await sync_to_async(snapshot)(staged_cp.pk), await sync_to_async(snapshot)(direct_cp.pk)
    assert [kind for kind, _ in staged["anomalies"]].count("out_of_order") == 2
    assert staged == direct
