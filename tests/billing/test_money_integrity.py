"""Issue 15, money integrity: each finding as a regression test, with numbers a reader can
check by hand. The tariff is the demo's "Standard AC": 0.30/kWh, 0.50 session fee, 0.10/min
idle after 15 min grace, 21 % VAT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Purchase, WalletEntry
from billing.pricing import price_session
from billing.services import purchase_correct, purchase_create_for_session, purchase_set_paid_date
from chargepoints.models import IdToken
from sessions_app import services as sessions
from sessions_app.models import ChargeSession, ChargingStateChange, MeterSample, SessionAnomaly
from tests.billing.factories import add_state, assign, make_charge_point, make_session, make_tariff, make_user

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 15, 10, 0, 7, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def standard_ac(charge_point) -> None:
    tariff = make_tariff(
        name="Standard AC",
        energy_price_per_kwh=Decimal("0.30"),
        vat_percent=Decimal("21"),
        session_fee=Decimal("0.50"),
        idle_fee_per_minute=Decimal("0.10"),
        idle_grace_minutes=15,
    )
    assign(tariff, site=charge_point.site, valid_from=T0 - timedelta(days=1))


@pytest.fixture
def charge_point():
    charge_point = make_charge_point()
    standard_ac(charge_point)
    return charge_point


# --- finding 1: same-second state changes keep their arrival order -----------------------------


def test_a_charging_status_in_the_same_second_as_the_start_is_not_billed_as_idle(charge_point):
    IdToken.objects.create(uid="CARD")
    session, _ = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=T0
    )
    sessions.status_notification_apply(charge_point_id=charge_point.pk, connector_id=1, status="Charging", timestamp=T0)
    sessions.charge_session_stop(
        charge_point_id=charge_point.pk, transaction_id=session.transaction_id, meter_stop_wh=20_000, timestamp=at(120)
    )
    purchase = purchase_create_for_session(session_id=session.pk)
    # 20 kWh x 0.30 + 0.50 = 6.50; + 21 % = 7.865 -> 7.87 (was 20.57: 105 idle minutes)
    assert purchase.idle_minutes == 0
    assert purchase.total_price == Decimal("7.87")


def test_state_changes_in_the_same_instant_apply_in_arrival_order_not_by_name(charge_point):
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(60), meter_stop_wh=1000)
    add_state(session, at(0), "SuspendedEV")  # alphabetically after Charging, arrived first
    add_state(session, at(0), "Charging")
    add_state(session, at(30), "SuspendedEV")
    add_state(session, at(30), "EVConnected")
    priced = price_session(session=session)
    # Charging 0-30, then EVConnected after charging (idle) 30-60.
    assert priced.idle_minutes == 30
    assert priced.idle_billed_minutes == 15


def test_a_dst_night_same_second_start_is_charging_time_too():
    charge_point = make_charge_point(time_zone="Europe/Amsterdam")
    standard_ac(charge_point)
    start = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST, the hour that repeats
    session = make_session(
        charge_point=charge_point, started_at=start, stopped_at=start + timedelta(hours=2), meter_stop_wh=20_000
    )
    add_state(session, start, "EVConnected")
    add_state(session, start, "Charging")
    purchase = purchase_create_for_session(session_id=session.pk)
    assert (purchase.idle_minutes, purchase.total_price) == (0, Decimal("7.87"))


# --- finding 2: nothing billed that was not delivered --------------------------------------------


def start_and_stop(
    charge_point,
    *,
    id_tag: str,
    connector_id: int = 1,
    meter_stop_wh: int = 0,
    reason: str = "DeAuthorized",
    minutes: float = 2,
):
    session, info = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=connector_id, id_tag=id_tag, meter_start_wh=0, timestamp=at(0)
    )
    sessions.charge_session_stop(
        charge_point_id=charge_point.pk,
        transaction_id=session.transaction_id,
        meter_stop_wh=meter_stop_wh,
        timestamp=at(minutes),
        reason=reason,
    )
    return session, info


@pytest.mark.parametrize("card_status", ["Invalid", "Blocked", "Expired", "unknown card"])
def test_a_start_the_csms_refused_never_gets_a_purchase_to_pay(charge_point, card_status):
    if card_status != "unknown card":
        IdToken.objects.create(
            uid="CARD",
            status=card_status if card_status != "Expired" else "Accepted",
            expires_at=at(-60) if card_status == "Expired" else None,
        )
    session, info = start_and_stop(charge_point, id_tag="CARD", meter_stop_wh=30)
    assert info["status"] == ("Invalid" if card_status == "unknown card" else card_status)
    purchase = purchase_create_for_session(session_id=session.pk)
    assert purchase.status == Purchase.Status.VOID
    assert purchase.total_price == Decimal("0.00") and not purchase.lines.exists()


def test_a_concurrent_tx_start_costs_nothing_and_the_running_session_is_billed_normally(charge_point):
    from chargepoints.services import connector_ensure

    connector_ensure(charge_point_id=charge_point.pk, connector_id=2)
    IdToken.objects.create(uid="CARD")
    running, _ = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=at(0)
    )
    refused, info = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=2, id_tag="CARD", meter_start_wh=0, timestamp=at(1)
    )
    assert info["status"] == "ConcurrentTx"
    sessions.charge_session_stop(
        charge_point_id=charge_point.pk,
        transaction_id=refused.transaction_id,
        meter_stop_wh=0,
        timestamp=at(2),
        reason="DeAuthorized",
    )
    assert purchase_create_for_session(session_id=refused.pk).status == Purchase.Status.VOID
    sessions.charge_session_stop(
        charge_point_id=charge_point.pk, transaction_id=running.transaction_id, meter_stop_wh=1000, timestamp=at(10)
    )
    # 1 kWh x 0.30 + 0.50 = 0.80 + 21 % = 0.968
    assert purchase_create_for_session(session_id=running.pk).total_price == Decimal("0.97")


def test_a_session_replaced_without_energy_pays_no_session_fee(charge_point):
    IdToken.objects.create(uid="CARD")
    first, _ = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=500, timestamp=at(0)
    )
    sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=500, timestamp=at(5)
    )
    first.refresh_from_db()
    assert first.closed_by == "server"
    purchase = purchase_create_for_session(session_id=first.pk)
    assert purchase.total_price == Decimal("0.00")
    assert [line.kind for line in purchase.lines.all()] == []


def test_a_2_0_1_transaction_with_a_refused_token_costs_nothing(charge_point, django_capture_on_commit_callbacks):
    from sessions_app.transaction_events import transaction_event_handle
    from tests.ocpp_consumer.v201.frames import event, kwargs_of

    for payload in (
        event("Started", 0, 0, "Authorized", id_token="STOLEN", state="EVConnected", wh=0),
        event("Ended", 1, 1, "Deauthorized", reason="DeAuthorized", wh=40),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            transaction_event_handle(charge_point_id=charge_point.pk, **kwargs_of(payload))
    session = ChargeSession.objects.get(charge_point=charge_point, transaction_id="TX-1")
    assert session.authorization == "Unknown" and session.refused
    purchase = Purchase.objects.get(session=session)
    assert (purchase.status, purchase.total_price) == (Purchase.Status.VOID, Decimal("0.00"))


@pytest.mark.parametrize(
    ("wh", "fee_lines", "total"),
    [
        (0, 0, "0.00"),
        (99, 0, "0.04"),  # 0.099 kWh x 0.30 = 0.0297 + 21 % = 0.0359 -> 0.04
        (100, 1, "0.64"),  # 0.03 + 0.50 = 0.53 + 21 % = 0.6413
    ],
)
def test_an_authorised_session_below_the_minimum_energy_pays_no_session_fee(charge_point, wh, fee_lines, total):
    IdToken.objects.create(uid="CARD")
    session, _ = start_and_stop(charge_point, id_tag="CARD", meter_stop_wh=wh, reason="Local")
    purchase = purchase_create_for_session(session_id=session.pk)
    assert purchase.lines.filter(kind="session_fee").count() == fee_lines
    assert purchase.total_price == Decimal(total)
    assert purchase.status == Purchase.Status.OPEN


def test_idle_fees_follow_the_tariff_below_the_minimum_energy(charge_point):
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(45), meter_stop_wh=50)
    add_state(session, at(0), "Charging")
    add_state(session, at(1), "SuspendedEV")
    purchase = purchase_create_for_session(session_id=session.pk)
    # 44 min SuspendedEV - 15 grace = 29 x 0.10 = 2.90; 0.05 kWh x 0.30 = 0.015 -> 2.915 + 21 % = 3.52715
    assert [line.kind for line in purchase.lines.all()] == ["energy", "idle", "vat"]
    assert purchase.total_price == Decimal("3.53")


def test_the_minimum_billable_energy_is_a_setting(charge_point, settings):
    settings.BILLING_MIN_BILLABLE_WH = 0
    session = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(5), meter_stop_wh=0)
    assert purchase_create_for_session(session_id=session.pk).total_price == Decimal("0.61")  # 0.50 + 21 %


def test_correcting_purchases_reprices_unpaid_ones_and_refunds_paid_ones_with_a_reason(charge_point, settings):
    settings.BILLING_MIN_BILLABLE_WH = 0  # the old rule: a session fee for nothing
    user = make_user()
    unpaid = make_session(charge_point=charge_point, started_at=at(0), stopped_at=at(5), meter_stop_wh=0, user=user)
    paid = make_session(charge_point=charge_point, started_at=at(10), stopped_at=at(15), meter_stop_wh=0, user=user)
    assert purchase_create_for_session(session_id=unpaid.pk).total_price == Decimal("0.61")
    paid_purchase = purchase_create_for_session(session_id=paid.pk)
    purchase_set_paid_date(purchase_id=paid_purchase.pk)
    settings.BILLING_MIN_BILLABLE_WH = 100

    fixed = purchase_correct(purchase_id=Purchase.objects.get(session=unpaid).pk, reason="issue 15")
    assert (fixed.action, fixed.purchase.total_price) == ("repriced", Decimal("0.00"))

    refunded = purchase_correct(purchase_id=paid_purchase.pk, reason="session fee without energy")
    assert (refunded.action, refunded.refund) == ("refunded", Decimal("0.61"))
    entry = WalletEntry.objects.get(purchase=paid_purchase, kind=WalletEntry.Kind.REFUND)
    assert entry.amount == Decimal("0.61") and "session fee without energy" in entry.note
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.PAID and paid_purchase.total_price == Decimal(
        "0.61"
    )  # the record stays
    # Twice is once.
    purchase_correct(purchase_id=paid_purchase.pk, reason="again")
    assert WalletEntry.objects.filter(purchase=paid_purchase, kind=WalletEntry.Kind.REFUND).count() == 1


# --- finding 5: replays are stored once, never move the meter back, after the stop not priced ------


def meter_value(moment: datetime, wh: int) -> list[dict]:
    return [
        {
            "timestamp": moment.isoformat(),
            "sampled_value": [
                {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"},
            ],
        }
    ]


def record(charge_point, session, frames: list[list[dict]]) -> None:
    sessions.meter_values_record_many(
        frames=[
            {
                "charge_point_id": charge_point.pk,
                "identity": charge_point.identity,
                "connector_id": 1,
                "transaction_id": session.transaction_id,
                "meter_value": mv,
            }
            for mv in frames
        ]
    )


@pytest.fixture
def running(charge_point):
    IdToken.objects.create(uid="CARD")
    session, _ = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=at(0)
    )
    sessions.status_notification_apply(
        charge_point_id=charge_point.pk, connector_id=1, status="Charging", timestamp=at(0)
    )
    return session


def test_a_replayed_meter_value_is_stored_once(charge_point, running):
    record(charge_point, running, [meter_value(at(10), 2000)])
    record(charge_point, running, [meter_value(at(10), 2000)])  # the answer was lost: resent
    record(charge_point, running, [meter_value(at(10), 2000), meter_value(at(10), 2000)])  # twice in one batch
    assert MeterSample.objects.filter(session=running).count() == 2  # energy and power, once each


def test_the_database_refuses_a_second_copy_of_a_reading(charge_point, running):
    from django.db import IntegrityError, transaction

    fields = {"charge_point": charge_point, "session": running, "sampled_at": at(3), "value": Decimal(1), "unit": "Wh"}
    MeterSample.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        MeterSample.objects.create(**fields)


def test_an_older_replay_never_moves_the_last_reading_back_and_is_no_anomaly(charge_point, running):
    record(charge_point, running, [meter_value(at(10), 2000)])
    record(charge_point, running, [meter_value(at(20), 4000)])
    record(charge_point, running, [meter_value(at(10), 2000)])  # an old frame, replayed late
    running.refresh_from_db()
    assert (running.meter_last_wh, running.meter_last_at) == (4000, at(20))
    assert not SessionAnomaly.objects.filter(session=running, kind="meter_backwards").exists()


def test_a_newer_lower_reading_is_still_a_backwards_meter(charge_point, running):
    record(charge_point, running, [meter_value(at(10), 2000)])
    record(charge_point, running, [meter_value(at(20), 1900)])
    running.refresh_from_db()
    assert running.meter_last_wh == 1900
    assert SessionAnomaly.objects.filter(session=running, kind="meter_backwards").count() == 1


def test_a_replay_after_the_stop_is_not_stored_as_the_sessions_nor_priced(charge_point, running):
    record(charge_point, running, [meter_value(at(60), 10_000)])
    sessions.charge_session_stop(
        charge_point_id=charge_point.pk, transaction_id=running.transaction_id, meter_stop_wh=20_000, timestamp=at(120)
    )
    before = purchase_create_for_session(session_id=running.pk).total_price
    record(charge_point, running, [meter_value(at(60), 10_000), meter_value(at(125), 20_500)])
    assert not MeterSample.objects.filter(session=running, sampled_at__gt=at(120)).exists()
    assert MeterSample.objects.filter(session=running).count() == 2
    assert price_session(session=ChargeSession.objects.get(pk=running.pk)).total == before == Decimal("7.87")


def test_a_2_0_1_reading_repeated_by_a_later_event_is_stored_once(charge_point):
    from sessions_app.transaction_events import transaction_event_handle
    from tests.ocpp_consumer.v201.frames import energy, event, kwargs_of

    first = event("Updated", 1, 10, "MeterValuePeriodic", wh=2000)
    again = event("Updated", 2, 11, "MeterValuePeriodic")
    again["meterValue"] = energy(2000, 10)
    for payload in (event("Started", 0, 0, "CablePluggedIn", state="Charging", wh=0), first, again):
        transaction_event_handle(charge_point_id=charge_point.pk, **kwargs_of(payload))
    session = ChargeSession.objects.get(charge_point=charge_point, transaction_id="TX-1")
    assert MeterSample.objects.filter(session=session, sampled_at__gt=session.started_at).count() == 1


# --- finding 4: a 2.0.1 session ends as consistently as a 1.6 one -----------------------------------


def send_201(charge_point, *payloads) -> ChargeSession:
    from sessions_app.transaction_events import transaction_event_handle
    from tests.ocpp_consumer.v201.frames import kwargs_of

    for payload in payloads:
        transaction_event_handle(charge_point_id=charge_point.pk, **kwargs_of(payload))
    return ChargeSession.objects.get(charge_point=charge_point, transaction_id="TX-1")


def ended_without_state_or_time(events):
    from tests.ocpp_consumer.v201.frames import event

    return [
        event("Started", 0, 0, "Authorized", state="EVConnected", wh=0),
        event("Updated", 1, 2, "ChargingStateChanged", state="Charging"),
        event("Updated", 2, 50, "ChargingStateChanged", state="SuspendedEV"),
        event("Ended", 3, 60, "StopAuthorized", reason="Local", wh=10_000),  # no chargingState, no timeSpentCharging
    ]


@pytest.mark.parametrize("order", ["in order", "Ended before the last Updated"])
def test_a_2_0_1_end_writes_its_final_state_and_the_charging_time(charge_point, order):
    events = ended_without_state_or_time(None)
    if order != "in order":
        events = [events[0], events[1], events[3], events[2]]
    session = send_201(charge_point, *events)
    history = list(
        ChargingStateChange.objects.filter(session=session)
        .order_by("at", "id")
        .values_list("charging_state", flat=True)
    )
    assert session.charging_state == "EVConnected"
    assert history == ["EVConnected", "Charging", "SuspendedEV", "EVConnected"]
    assert session.time_spent_charging_s == 48 * 60  # Charging from minute 2 to minute 50


def test_a_2_0_1_stations_own_time_spent_charging_wins(charge_point):
    from tests.ocpp_consumer.v201.frames import event

    ended = event("Ended", 2, 60, "EVCommunicationLost", state="Idle", reason="EVDisconnected", wh=10_000)
    ended["transactionInfo"]["timeSpentCharging"] = 3000
    session = send_201(
        charge_point,
        event("Started", 0, 0, "Authorized", state="Charging", wh=0),
        event("Updated", 1, 30, "MeterValuePeriodic", wh=5000),
        ended,
    )
    assert session.time_spent_charging_s == 3000
    assert session.charging_state == "Idle"
    assert ChargingStateChange.objects.filter(session=session).order_by("at", "id").last().charging_state == "Idle"


def test_the_admin_action_corrects_the_selected_purchases(client, charge_point, settings, django_user_model):
    settings.BILLING_MIN_BILLABLE_WH = 0
    user = make_user()
    unpaid = purchase_create_for_session(
        session_id=make_session(
            charge_point=charge_point, started_at=at(0), stopped_at=at(5), meter_stop_wh=0, user=user
        ).pk
    )
    paid = purchase_create_for_session(
        session_id=make_session(
            charge_point=charge_point, started_at=at(10), stopped_at=at(15), meter_stop_wh=0, user=user
        ).pk
    )
    purchase_set_paid_date(purchase_id=paid.pk)
    settings.BILLING_MIN_BILLABLE_WH = 100
    client.force_login(django_user_model.objects.create_superuser("root", "root-password"))
    response = client.post(
        "/admin/billing/purchase/",
        {"action": "correct_selected", "_selected_action": [unpaid.pk, paid.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 re-priced, 1 refunded to the wallet, 0 unchanged." in response.content.decode()
    unpaid.refresh_from_db()
    assert unpaid.total_price == Decimal("0.00")
    assert WalletEntry.objects.get(purchase=paid, kind="refund").amount == Decimal("0.61")


@pytest.mark.django_db(transaction=True)
def test_replays_in_committed_batches_on_postgresql_are_stored_once(on_postgres):
    """The group-commit path on PostgreSQL: COPY into the connection's staging table, then
    INSERT ... ON CONFLICT DO NOTHING; the staging table is reused batch after batch."""
    charge_point = make_charge_point()
    standard_ac(charge_point)
    IdToken.objects.create(uid="CARD")
    session, _ = sessions.charge_session_start(
        charge_point_id=charge_point.pk, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=at(0)
    )
    for _ in range(3):  # three committed batches, each replaying the readings of the last
        record(charge_point, session, [meter_value(at(10), 2000), meter_value(at(20), 4000)])
    assert MeterSample.objects.filter(session=session).count() == 4


def test_a_refused_sessions_void_purchase_still_tells_payments_so_a_hold_is_released(
    charge_point, django_capture_on_commit_callbacks, monkeypatch
):
    import payments.tasks
    from billing.signals import purchase_priced

    monkeypatch.setattr(payments.tasks.settle_reservation_for_session, "delay", lambda session_id: None)
    heard = []

    def listener(sender, *, purchase_id, session_id, **kwargs):
        heard.append(session_id)

    purchase_priced.connect(listener, dispatch_uid="test-refused-listener")
    try:
        session, _ = start_and_stop(charge_point, id_tag="NOBODY")
        with django_capture_on_commit_callbacks(execute=True):
            purchase = purchase_create_for_session(session_id=session.pk)
    finally:
        purchase_priced.disconnect(dispatch_uid="test-refused-listener")
    assert purchase.status == Purchase.Status.VOID
    assert heard == [session.pk]
