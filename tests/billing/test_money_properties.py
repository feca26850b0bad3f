"""Issue 15: property tests of the money invariants over generated sessions.

Sessions are generated with state changes that tie in the same instant, meter samples
that are replayed and arrive out of order (also after the stop), start times around hour
boundaries and the Amsterdam DST changes, OCPP 1.6 and 2.0.1. The invariants:

- the price is the price of the deduplicated, time-ordered data;
- the lines add up to the total (rounded once), subtotal + VAT = total;
- idle + charging time <= the session's duration;
- the price never depends on the arrival order of samples (or states) at distinct times;
- a session the CSMS refused costs nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from billing.models import Purchase
from billing.pricing import idle_seconds, price_readings, readings_from_samples
from billing.services import purchase_create_for_session
from chargepoints.models import IdToken
from sessions_app import services as sessions
from sessions_app.models import ChargeSession
from sessions_app.timeline import charging_seconds
from sessions_app.transaction_events import transaction_event_handle
from tariffs.models import Tariff
from tests.billing.factories import assign, make_charge_point, make_tariff

CENTS = Decimal("0.01")
ZONE = "Europe/Amsterdam"
# Around the hours that repeat (autumn) or are skipped (spring) in Amsterdam, and a plain day.
ANCHORS = [
    datetime(2025, 10, 26, 0, 0, tzinfo=UTC),
    datetime(2025, 3, 30, 0, 0, tzinfo=UTC),
    datetime(2025, 6, 11, 9, 0, tzinfo=UTC),
]
STATES = ["Charging", "EVConnected", "SuspendedEV", "SuspendedEVSE", "Idle"]
PURE = settings(max_examples=500, deadline=None)
STORED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

starts = st.builds(
    lambda anchor, seconds: anchor + timedelta(seconds=seconds), st.sampled_from(ANCHORS), st.integers(0, 4 * 3600)
)
# (seconds after the previous reading, Wh added): distinct, increasing times.
steps = st.lists(st.tuples(st.integers(1, 2400), st.integers(0, 9000)), min_size=1, max_size=25)
money = st.decimals(min_value=0, max_value=1, places=4)


def series(start: datetime, meter_start: int, increments) -> list[tuple[datetime, int]]:
    readings, moment, value = [], start, meter_start
    for seconds, wh in increments:
        moment, value = moment + timedelta(seconds=seconds), value + wh
        readings.append((moment, value))
    return readings


def state_changes(data, start: datetime, end: datetime, sample_times: list[datetime]) -> list[tuple[datetime, str]]:
    """State changes in arrival order, many of them tied: at the start, at a sample's time,
    or twice in the same instant."""
    moments = st.one_of(
        st.just(start),
        st.sampled_from(sample_times or [start]),
        st.integers(0, int((end - start).total_seconds())).map(lambda s: start + timedelta(seconds=s)),
    )
    changes = data.draw(st.lists(st.tuples(moments, st.sampled_from(STATES)), max_size=12))
    return sorted(changes, key=lambda change: change[0]) if data.draw(st.booleans()) else changes


def tariff_of(data) -> Tariff:
    return Tariff(  # unsaved: the pure core needs no database
        name="t",
        kind=data.draw(st.sampled_from(["fixed", "dynamic"])),
        currency="EUR",
        energy_price_per_kwh=data.draw(money),
        markup_per_kwh=data.draw(money),
        vat_percent=data.draw(st.decimals(min_value=0, max_value=30, places=2)),
        session_fee=data.draw(st.decimals(min_value=0, max_value=2, places=2)),
        idle_fee_per_minute=data.draw(money),
        idle_grace_minutes=data.draw(st.integers(0, 30)),
    )


def hourly(start: datetime, end: datetime) -> dict:
    first = start.replace(minute=0, second=0, microsecond=0)
    hours = int((end - first).total_seconds() // 3600) + 2
    return {first + timedelta(hours=i): (Decimal(i % 5) / 10 + Decimal("0.0123"), "EUR") for i in range(hours)}


def replayed_and_shuffled(data, samples: list) -> list:
    """The samples as a charger may deliver them: some twice or three times, in any order."""
    delivered = samples + [s for s in samples if data.draw(st.integers(0, 3)) == 0] * data.draw(st.integers(1, 2))
    random.Random(data.draw(st.integers(0, 2**32))).shuffle(delivered)
    return delivered


def price(tariff, readings, states, start, end, **kwargs):
    return price_readings(
        tariff=tariff,
        readings=readings,
        states=states,
        started_at=start,
        ended_at=end,
        hourly_prices=hourly(start, end),
        time_zone=ZONE,
        **kwargs,
    )


def assert_lines_add_up(priced) -> None:
    exact = sum((line.amount for line in priced.lines), Decimal(0))
    assert priced.total == exact.quantize(CENTS, rounding=ROUND_HALF_UP)
    assert priced.subtotal + priced.vat == priced.total >= 0
    assert sum(line.quantity for line in priced.lines if line.kind == "energy") * 1000 == priced.energy_wh


# --- the pure core ---------------------------------------------------------------------------


@PURE
@given(data=st.data(), start=starts, meter_start=st.integers(0, 10**8), increments=steps)
def test_the_price_is_the_price_of_the_deduplicated_time_ordered_samples(data, start, meter_start, increments):
    readings = series(start, meter_start, increments)
    end = readings[-1][0] + timedelta(seconds=data.draw(st.integers(0, 3600)))
    stop = (end, readings[-1][1])
    unit = data.draw(st.sampled_from(["Wh", "kWh"]))
    samples = [(at, Decimal(wh) / 1000 if unit == "kWh" else Decimal(wh), unit, "") for at, wh in readings]
    after_stop = [(end + timedelta(minutes=5), Decimal(readings[-1][1] + 999), "Wh", "")]  # a replay after the stop
    tariff = tariff_of(data)
    states = state_changes(data, start, end, [at for at, _ in readings])

    clean = readings_from_samples(
        sorted(samples), started_at=start, meter_start_wh=meter_start, ended_at=end, stop=stop
    )
    messy = readings_from_samples(
        replayed_and_shuffled(data, samples + after_stop),
        started_at=start,
        meter_start_wh=meter_start,
        ended_at=end,
        stop=stop,
    )
    assert messy == clean
    priced, expected = price(tariff, messy, states, start, end), price(tariff, clean, states, start, end)
    assert (priced.total, priced.lines) == (expected.total, expected.lines)
    assert priced.energy_wh == readings[-1][1] - meter_start
    assert_lines_add_up(priced)


@PURE
@given(data=st.data(), start=starts, meter_start=st.integers(0, 10**6), increments=steps)
def test_lines_add_up_and_the_session_fee_needs_the_minimum_energy(data, start, meter_start, increments):
    readings = [(start, meter_start)] + series(start, meter_start, increments)
    end = readings[-1][0]
    tariff = tariff_of(data)
    minimum = data.draw(st.integers(0, 500))
    priced = price(tariff, readings, state_changes(data, start, end, []), start, end, min_billable_wh=minimum)
    assert_lines_add_up(priced)
    fees = [line for line in priced.lines if line.kind == "session_fee"]
    assert len(fees) == (1 if tariff.session_fee and priced.energy_wh >= minimum else 0)
    assert all(line.amount >= 0 for line in priced.lines)


@PURE
@given(data=st.data(), start=starts, minutes=st.integers(0, 600))
def test_idle_and_charging_time_never_exceed_the_duration(data, start, minutes):
    end = start + timedelta(minutes=minutes)
    before = st.integers(-3600, 0).map(lambda s: start + timedelta(seconds=s))  # reported before the start
    states = state_changes(data, start, end, []) + data.draw(
        st.lists(st.tuples(before, st.sampled_from(STATES)), max_size=2)
    )
    idle = idle_seconds(states, started_at=start, ended_at=end)
    charging = charging_seconds(states, started_at=start, ended_at=end)
    assert 0 <= idle and 0 <= charging
    assert idle + charging <= (end - start).total_seconds()


@PURE
@given(data=st.data(), start=starts, meter_start=st.integers(0, 10**6), increments=steps)
def test_the_price_never_depends_on_arrival_order_at_distinct_times(data, start, meter_start, increments):
    """Shuffling samples, and states across distinct instants (ties keep their relative
    order, which is what a stable sort on time promises), leaves the price unchanged."""
    readings = series(start, meter_start, increments)
    end = readings[-1][0]
    samples = [(at, Decimal(wh), "Wh", "") for at, wh in readings]
    states = state_changes(data, start, end, [at for at, _ in readings])
    shuffled_states = states[:]
    random.Random(data.draw(st.integers(0, 2**32))).shuffle(shuffled_states)
    # Put back the relative order of each instant's changes as they arrived.
    by_instant: dict = {}
    for at, state in states:
        by_instant.setdefault(at, []).append(state)
    shuffled_states = [(at, by_instant[at].pop(0)) for at, _ in shuffled_states]
    tariff = tariff_of(data)

    def priced(sample_order, state_order):
        got = readings_from_samples(sample_order, started_at=start, meter_start_wh=meter_start, ended_at=end)
        return price(tariff, got, state_order, start, end)

    first = priced(samples, states)
    second = priced(random.Random(data.draw(st.integers(0, 2**32))).sample(samples, len(samples)), shuffled_states)
    assert (first.total, first.lines, first.idle_minutes) == (second.total, second.lines, second.idle_minutes)


@PURE
@given(data=st.data(), start=starts, meter_start=st.integers(0, 10**6), increments=steps)
def test_a_refused_session_costs_nothing_whatever_it_metered(data, start, meter_start, increments):
    readings = [(start, meter_start)] + series(start, meter_start, increments)
    end = readings[-1][0] + timedelta(hours=1)
    priced = price(tariff_of(data), readings, state_changes(data, start, end, []), start, end, refused=True)
    assert priced.total == priced.subtotal == priced.vat == 0 and priced.lines == []


# --- stored sessions, through the OCPP services ------------------------------------------------


def standard_tariff_for(charge_point, start: datetime) -> Tariff:
    tariff = make_tariff(
        energy_price_per_kwh=Decimal("0.3117"),
        vat_percent=Decimal("21"),
        session_fee=Decimal("0.50"),
        idle_fee_per_minute=Decimal("0.10"),
        idle_grace_minutes=15,
    )
    assign(tariff, site=charge_point.site, valid_from=start - timedelta(days=1))
    return tariff


class TestStoredSessions(TestCase):
    """Sessions driven through the 1.6 and 2.0.1 services with replays, out-of-order frames
    and tied state changes: the purchase is the price of the deduplicated, time-ordered data."""

    @STORED
    @given(
        data=st.data(),
        start=starts,
        meter_start=st.integers(0, 10**7),
        increments=steps,
        card=st.sampled_from(["Accepted", "Accepted", "Accepted", "Blocked", "unknown"]),
    )
    def test_a_1_6_session_is_priced_from_its_deduplicated_time_ordered_data(
        self, data, start, meter_start, increments, card
    ):
        charge_point = make_charge_point(time_zone=ZONE)
        tariff = standard_tariff_for(charge_point, start)
        if card != "unknown":
            IdToken.objects.create(uid="CARD", status=card)
        readings = series(start, meter_start, increments)
        (stop_at, stop_wh), samples = readings[-1], readings[:-1]
        session, _ = sessions.charge_session_start(
            charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=meter_start, timestamp=start
        )
        # Status changes as the charger reports them (often in the start's own second).
        expected_states = [(start, "EVConnected")]
        for at, state in state_changes(data, start, stop_at, [at for at, _ in samples]):
            status = {"EVConnected": "Preparing", "Idle": "Finishing"}.get(state, state)
            sessions.status_notification_apply(
                charge_point_id=charge_point.pk, connector_id=1, status=status, timestamp=at
            )
            if state != expected_states[-1][1]:
                expected_states.append((at, state))
        frames = [
            [{"timestamp": at.isoformat(), "sampled_value": [{"value": str(wh), "unit": "Wh"}]}] for at, wh in samples
        ]
        for batch in _batches(data, replayed_and_shuffled(data, frames)):
            sessions.meter_values_record_many(
                frames=[
                    {
                        "charge_point_id": charge_point.pk,
                        "identity": charge_point.identity,
                        "connector_id": 1,
                        "transaction_id": session.transaction_id,
                        "meter_value": frame,
                    }
                    for frame in batch
                ]
            )
        sessions.charge_session_stop(
            charge_point_id=charge_point.pk,
            transaction_id=session.transaction_id,
            meter_stop_wh=stop_wh,
            timestamp=stop_at,
        )
        # A replay after the stop changes nothing.
        sessions.meter_values_record(
            charge_point_id=charge_point.pk,
            identity=charge_point.identity,
            connector_id=1,
            transaction_id=session.transaction_id,
            meter_value=[
                {
                    "timestamp": (stop_at + timedelta(minutes=1)).isoformat(),
                    "sampled_value": [{"value": str(stop_wh + 5000)}],
                }
            ],
        )
        purchase = purchase_create_for_session(session_id=session.pk)

        if card != "Accepted":
            assert (purchase.status, purchase.total_price) == (Purchase.Status.VOID, Decimal("0.00"))
            return
        expected = price_readings(
            tariff=tariff,
            readings=[(start, meter_start)] + samples + [(stop_at, stop_wh)],
            states=expected_states,
            started_at=start,
            ended_at=stop_at,
            time_zone=ZONE,
        )
        assert purchase.total_price == expected.total
        assert purchase.energy_wh == stop_wh - meter_start == expected.energy_wh
        assert purchase.idle_minutes == expected.idle_minutes
        assert (
            sum((line.amount for line in purchase.lines.all()), Decimal(0)).quantize(CENTS) - purchase.total_price
            <= CENTS
        )
        session.refresh_from_db()
        assert session.meter_last_wh == stop_wh and session.time_spent_charging_s <= (stop_at - start).total_seconds()

    @STORED
    @given(
        data=st.data(),
        start=starts,
        meter_start=st.integers(0, 10**7),
        increments=steps,
        card=st.sampled_from(["Accepted", "Accepted", "Accepted", "unknown"]),
    )
    def test_a_2_0_1_session_is_priced_from_its_deduplicated_time_ordered_data(
        self, data, start, meter_start, increments, card
    ):
        charge_point = make_charge_point(time_zone=ZONE)
        tariff = standard_tariff_for(charge_point, start)
        if card == "Accepted":
            IdToken.objects.create(uid="CARD")
        readings = series(start, meter_start, increments)
        (stop_at, stop_wh), samples = readings[-1], readings[:-1]
        states = [state for _, state in state_changes(data, start, stop_at, [])]

        def energy(at, wh, context):
            return [
                {
                    "timestamp": _ts(at),
                    "sampledValue": [
                        {
                            "value": wh,
                            "context": context,
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "Wh"},
                        }
                    ],
                }
            ]

        def event(kind, seq_no, at, trigger, **extra):
            return {
                "eventType": kind,
                "timestamp": _ts(at),
                "triggerReason": trigger,
                "seqNo": seq_no,
                "transactionInfo": {"transactionId": "TX-P", **extra.pop("info", {})},
                **extra,
            }

        events = [
            event(
                "Started",
                0,
                start,
                "Authorized",
                idToken={"idToken": "CARD", "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
                info={"chargingState": "Charging"},
                meterValue=energy(start, meter_start, "Transaction.Begin"),
            )
        ]
        for index, (at, wh) in enumerate(samples, start=1):
            extra = {"info": {"chargingState": states[index % len(states)]}} if states and index % 2 else {}
            events.append(
                event("Updated", index, at, "MeterValuePeriodic", meterValue=energy(at, wh, "Sample.Periodic"), **extra)
            )
        ended = event(
            "Ended",
            len(samples) + 1,
            stop_at,
            "EVCommunicationLost",
            info={"stoppedReason": "EVDisconnected", "chargingState": "Idle"},
            meterValue=energy(stop_at, stop_wh, "Transaction.End"),
        )
        # Offline: the Updated events arrive in any order, some twice; the Started first.
        middle = replayed_and_shuffled(data, events[1:])
        for payload in [events[0], *middle, ended, *middle[:2]]:
            transaction_event_handle(
                charge_point_id=charge_point.pk,
                event_type=payload["eventType"],
                timestamp=payload["timestamp"],
                trigger_reason=payload["triggerReason"],
                seq_no=payload["seqNo"],
                transaction_info=payload["transactionInfo"],
                id_token=payload.get("idToken"),
                evse=payload.get("evse"),
                meter_value=payload.get("meterValue"),
                payload=payload,
            )
        session = ChargeSession.objects.get(charge_point=charge_point, transaction_id="TX-P")
        purchase = purchase_create_for_session(session_id=session.pk)
        if card != "Accepted":
            assert (purchase.status, purchase.total_price) == (Purchase.Status.VOID, Decimal("0.00"))
            return
        # The expected timeline: events by (timestamp, seqNo), a change wherever the state changes.
        timeline = []
        for payload in sorted(events + [ended], key=lambda e: (e["timestamp"], e["seqNo"])):
            state = payload["transactionInfo"].get("chargingState")
            if state and (not timeline or timeline[-1][1] != state):
                timeline.append((datetime.fromisoformat(payload["timestamp"]), state))
        expected = price_readings(
            tariff=tariff,
            readings=[(start, meter_start)] + samples + [(stop_at, stop_wh)],
            states=timeline,
            started_at=start,
            ended_at=stop_at,
            time_zone=ZONE,
        )
        assert (purchase.total_price, purchase.energy_wh, purchase.idle_minutes) == (
            expected.total,
            expected.energy_wh,
            expected.idle_minutes,
        )
        assert session.time_spent_charging_s is not None
        assert session.time_spent_charging_s <= (stop_at - start).total_seconds()


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _batches(data, frames: list) -> list[list]:
    """Frames as the consumer's group commit hands them over: in batches of 1 to 4."""
    batches, index = [], 0
    while index < len(frames):
        size = data.draw(st.integers(1, 4))
        batches.append(frames[index : index + size])
        index += size
    return batches
