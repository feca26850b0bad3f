"""Stripe pre-authorisation (seed 004) through /API/Payments/*, against a local HTTP server
standing in for api.stripe.com; the charger side is the command bus, replaced here."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Purchase
from payments import services, tasks
from payments.models import Payment, Reservation, WebhookEvent
from tests.factories import ConnectorFactory, PurchaseFactory

pytestmark = pytest.mark.django_db


class FakeCommands:
    def __init__(self):
        self.sent: list[tuple[str, str, dict]] = []
        self.answer: dict | Exception = {"status": "Accepted"}

    def send(self, charge_point_id, action, payload, *, timeout=None, source=""):
        self.sent.append((charge_point_id, action, payload))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def commands(monkeypatch):
    from ocpp_consumer import commands as module

    fake = FakeCommands()
    monkeypatch.setattr(module, "send", fake.send)
    return fake


def _signed(payload: str, secret: str = "whsec_test_secret", at: int | None = None) -> str:
    at = at or int(time.time())
    signature = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={signature}"


def _webhook(client, event: dict, **kwargs):
    payload = json.dumps(event)
    return client.post(
        "/API/Payments/Webhook",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=kwargs.get("signature") or _signed(payload),
    )


def _create(api, stripe_api):
    response = api("Create", {"chargePointId": "station42", "connectorId": 1, "chargeTagId": "tag1234"})
    assert response.status_code == 200, response.content
    return response.json()


def test_create_answers_with_a_checkout_for_the_maximum(api, stripe_api, tag):
    body = _create(api, stripe_api)
    assert body["status"] == "Redirect"
    assert body["checkoutUrl"].startswith("https://checkout.stripe.test/")
    assert body["currency"] == "eur" and body["maxAmountCents"] == 3920 and body["maxEnergyKwh"] == 80
    reservation = Reservation.objects.get(pk=body["reservationId"])
    assert reservation.status == Reservation.Status.PENDING and reservation.user == tag.user
    create = stripe_api.calls("POST", "/v1/checkout/sessions")[0]
    assert create.form["payment_intent_data[capture_method]"] == "manual"
    assert create.form["line_items[0][price_data][unit_amount]"] == "3920"
    assert create.headers["Idempotency-Key"] == f"reservation-{reservation.pk}-checkout"
    assert "sk_test_fake" not in str(reservation.provider_answers)


def test_the_payment_api_needs_an_operator_key(client, stripe_api, connector):
    response = client.post(
        "/API/Payments/Create",
        data={"chargePointId": "station42", "connectorId": 1, "chargeTagId": "t"},
        content_type="application/json",
    )
    assert response.status_code in (401, 403)


def test_another_operators_charge_point_is_unknown(api, stripe_api, tag):
    other = ConnectorFactory(charge_point__identity="elsewhere")
    response = api("Create", {"chargePointId": other.charge_point.identity, "connectorId": 1, "chargeTagId": "tag1234"})
    assert response.status_code == 404


def test_confirm_after_checkout_starts_the_charger_once(api, stripe_api, tag, commands):
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    not_yet = api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )
    assert not_yet.status_code == 402 and commands.sent == []

    stripe_api.complete(reservation.checkout_session_id)
    response = api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )
    assert response.status_code == 200 and response.json() == {"status": "Accepted"}
    again = api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )
    assert again.json() == {"status": "Accepted"}
    assert commands.sent == [("station42", "RemoteStartTransaction", {"connectorId": 1, "idTag": "tag1234"})]
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.STARTED and reservation.payment_intent_id.startswith("pi_test_")


def test_confirm_with_a_wrong_checkout_session_is_refused(api, stripe_api, tag, commands):
    body = _create(api, stripe_api)
    response = api("Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": "cs_test_other"})
    assert response.status_code == 400 and commands.sent == []


def test_a_charger_timeout_answers_timeout(api, stripe_api, tag, commands):
    from ocpp_consumer.commands import CommandTimeout

    commands.answer = CommandTimeout("no answer")
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    response = api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )
    assert response.json() == {"status": "Timeout"}


def test_an_offline_charger_is_a_clear_error_and_confirm_can_be_retried(api, stripe_api, tag, commands):
    from ocpp_consumer.commands import ChargerOffline

    commands.answer = ChargerOffline("station42")
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    response = api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )
    assert response.status_code == 503 and response.json()["code"] == "charger_offline"
    commands.answer = {"status": "Accepted"}
    retry = api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )
    assert retry.json() == {"status": "Accepted"}


def _confirm(api, body, reservation):
    return api(
        "Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
    )


def test_a_rejected_start_keeps_the_hold_and_the_next_confirm_tries_again(api, stripe_api, tag, commands):
    # Issue 18: a Rejected start is retryable (the hold stays until it expires or is
    # cancelled), and Confirm never answers Accepted for a start the charger refused.
    commands.answer = {"status": "Rejected"}
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    assert _confirm(api, body, reservation).json() == {"status": "Rejected"}
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.AUTHORIZED and reservation.start_answer == "Rejected"
    assert stripe_api.intents[reservation.payment_intent_id]["status"] != "canceled"

    commands.answer = {"status": "Accepted"}
    assert _confirm(api, body, reservation).json() == {"status": "Accepted"}
    assert [action for _, action, _ in commands.sent] == ["RemoteStartTransaction", "RemoteStartTransaction"]
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.STARTED and reservation.start_answer == "Accepted"
    # Cancel still releases the hold of a reservation whose start was refused.


def test_a_timed_out_start_is_sent_again_by_the_next_confirm(api, stripe_api, tag, commands):
    from ocpp_consumer.commands import CommandTimeout

    commands.answer = CommandTimeout("no answer")
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    assert _confirm(api, body, reservation).json() == {"status": "Timeout"}
    # Not "Accepted" on the retry unless the charger says so.
    commands.answer = {"status": "Rejected"}
    assert _confirm(api, body, reservation).json() == {"status": "Rejected"}
    commands.answer = {"status": "Accepted"}
    assert _confirm(api, body, reservation).json() == {"status": "Accepted"}
    assert _confirm(api, body, reservation).json() == {"status": "Accepted"}
    assert len(commands.sent) == 3


def test_a_rejected_reservation_can_be_cancelled_and_is_released(api, stripe_api, tag, commands):
    commands.answer = {"status": "Rejected"}
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    _confirm(api, body, reservation)
    assert api("Cancel", {"reservationId": body["reservationId"]}).status_code == 200
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.RELEASED
    assert stripe_api.intents[reservation.payment_intent_id]["status"] == "canceled"


def test_a_start_claimed_by_a_process_that_died_is_freed_after_the_command_timeout(
    api, stripe_api, tag, commands, settings
):
    settings.OCPP_COMMAND_TIMEOUT = 0.1
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    services._reservation_refresh(reservation=reservation)
    # A claim whose caller never came back (killed between the claim and the answer).
    Reservation.objects.filter(pk=reservation.pk).update(
        status=Reservation.Status.STARTED, start_answer="", updated_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    assert _confirm(api, body, reservation).json() == {"status": "Timeout"}
    assert commands.sent == []
    assert _confirm(api, body, reservation).json() == {"status": "Accepted"}
    assert len(commands.sent) == 1


# --- Create: idempotent, and refused before the driver pays -----------------------------


def _create_with(api, body: dict, key: str | None = None):
    return api("Create", body, headers={"HTTP_IDEMPOTENCY_KEY": key} if key else None)


CREATE = {"chargePointId": "station42", "connectorId": 1, "chargeTagId": "tag1234"}


def test_create_with_the_same_idempotency_key_answers_the_same_reservation_and_holds_once(api, stripe_api, tag):
    first = _create_with(api, CREATE, "order-17")
    again = _create_with(api, CREATE, "order-17")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Reservation.objects.count() == 1
    assert len(stripe_api.calls("POST", "/v1/checkout/sessions")) == 1
    other = _create_with(api, CREATE, "order-18")
    assert other.json()["reservationId"] != first.json()["reservationId"]
    assert len(stripe_api.calls("POST", "/v1/checkout/sessions")) == 2


def test_an_idempotency_key_reused_with_other_parameters_is_refused(api, stripe_api, tag):
    assert _create_with(api, CREATE, "order-17").status_code == 200
    reused = _create_with(api, {**CREATE, "chargeTagId": "another-tag"}, "order-17")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert Reservation.objects.count() == 1


def test_create_for_an_offline_charger_is_refused_before_anyone_pays(api, stripe_api, tag, connector):
    ChargePoint = type(connector.charge_point)
    ChargePoint.objects.filter(pk=connector.charge_point_id).update(is_online=False)
    response = _create_with(api, CREATE)
    assert response.status_code == 503 and response.json()["code"] == "charger_offline"
    assert Reservation.objects.count() == 0 and stripe_api.calls("POST", "/v1/checkout/sessions") == []


def test_create_checks_the_tag_against_the_chargers_protocol(api, stripe_api, connector):
    too_long_for_16 = "T" * 21
    response = _create_with(api, {**CREATE, "chargeTagId": too_long_for_16})
    assert response.status_code == 400 and "20 characters" in response.json()["message"]
    assert stripe_api.calls("POST", "/v1/checkout/sessions") == []
    type(connector.charge_point).objects.filter(pk=connector.charge_point_id).update(protocol="ocpp2.0.1")
    assert _create_with(api, {**CREATE, "chargeTagId": too_long_for_16}).status_code == 200
    assert _create_with(api, {**CREATE, "chargeTagId": "T" * 37}).status_code == 400


def test_cancel_releases_an_authorised_reservation(api, stripe_api, tag):
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    services._reservation_refresh(reservation=reservation)
    response = api("Cancel", {"reservationId": body["reservationId"], "reason": "checkout_cancelled"})
    assert response.status_code == 200
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.RELEASED and reservation.cancel_reason == "checkout_cancelled"
    assert stripe_api.intents[reservation.payment_intent_id]["status"] == "canceled"
    assert api("Cancel", {"reservationId": body["reservationId"]}).status_code == 200  # idempotent


def test_cancel_before_checkout_expires_the_session(api, stripe_api, tag):
    body = _create(api, stripe_api)
    response = api("Cancel", {"reservationId": body["reservationId"], "reason": "checkout_cancelled"})
    assert response.status_code == 200
    reservation = Reservation.objects.get(pk=body["reservationId"])
    assert reservation.status == Reservation.Status.CANCELED
    assert stripe_api.sessions[reservation.checkout_session_id]["status"] == "expired"


# --- webhooks ---------------------------------------------------------------------------


def _completed_event(reservation, event_id="evt_1"):
    return {
        "id": event_id,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": reservation.checkout_session_id,
                "object": "checkout.session",
                "status": "complete",
                "payment_intent": f"pi_test_{reservation.checkout_session_id}",
                "metadata": {"reservation_id": str(reservation.pk)},
            }
        },
    }


def test_a_webhook_with_a_bad_signature_is_refused_and_not_stored(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    event = _completed_event(reservation)
    payload = json.dumps(event)
    bad = _webhook(client, event, signature=_signed(payload, secret="whsec_wrong"))
    old = _webhook(client, event, signature=_signed(payload, at=int(time.time()) - 301))
    garbage = _webhook(client, event, signature="t=1,v1=00")
    assert bad.status_code == old.status_code == garbage.status_code == 400
    assert not WebhookEvent.objects.exists()
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.PENDING


def test_a_signed_webhook_authorises_and_a_replay_changes_nothing(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    event = _completed_event(reservation)
    first = _webhook(client, event)
    assert first.status_code == 200 and first.json()["result"] == "processed"
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.AUTHORIZED
    Reservation.objects.filter(pk=reservation.pk).update(status=Reservation.Status.STARTED)
    replay = _webhook(client, event)
    assert replay.json()["result"] == "duplicate"
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.STARTED
    assert WebhookEvent.objects.count() == 1


def test_out_of_order_webhooks_do_not_resurrect_a_released_reservation(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    canceled = {
        "id": "evt_2",
        "type": "payment_intent.canceled",
        "data": {
            "object": {
                "id": "pi_x",
                "object": "payment_intent",
                "status": "canceled",
                "cancellation_reason": "abandoned",
                "metadata": {"reservation_id": str(reservation.pk)},
            }
        },
    }
    _webhook(client, canceled)
    _webhook(client, _completed_event(reservation, event_id="evt_1"))  # older event, arriving late
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.RELEASED


def test_webhooks_for_card_checkouts_pay_purchases(stripe_api, client, emitted, django_capture_on_commit_callbacks):
    purchase = PurchaseFactory(total_price=Decimal("12.34"))
    answer = services.purchase_pay(purchase_id=purchase.pk, user_id=purchase.user_id, option="STRIPE")
    payment = Payment.objects.get(public_id=answer.invoice_id)
    assert answer.url.startswith("https://checkout.stripe.test/")
    stripe_api.complete(payment.provider_reference)
    event = {
        "id": "evt_9",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": payment.provider_reference,
                "object": "checkout.session",
                "metadata": {"payment_id": str(payment.public_id)},
            }
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert _webhook(client, event).json()["result"] == "processed"
        assert _webhook(client, event).json()["result"] == "duplicate"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.payment_method == "STRIPE"
    assert emitted == [(purchase.user_id, "PAYMENT", {"status": "success", "amount": Decimal("12.34")})]


# --- settling the session ---------------------------------------------------------------


def _started_session(api, stripe_api, commands, connector):
    from tests.factories import ChargeSessionFactory

    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    api("Confirm", {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id})
    session = ChargeSessionFactory(
        connector=connector, id_tag="tag1234", user=reservation.user, started_at=timezone.now()
    )
    reservation.refresh_from_db()
    return reservation, session


def test_settling_captures_less_than_reserved_and_releases_the_rest(
    api, stripe_api, tag, commands, connector, emitted, django_capture_on_commit_callbacks
):
    reservation, session = _started_session(api, stripe_api, commands, connector)
    session.status, session.stopped_at, session.meter_stop_wh = "completed", timezone.now(), 21000
    session.save()
    purchase = PurchaseFactory(
        session=session, user=session.user, total_price=Decimal("12.34"), priced_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.settle_reservation_for_session(session.pk)
        again = services.reservation_settle_for_session(session_id=session.pk)
    assert result == "captured"
    assert again.status == "captured" and again.captured_amount == Decimal("12.34")
    captures = stripe_api.calls("POST", f"/v1/payment_intents/{reservation.payment_intent_id}/capture")
    assert len(captures) == 1 and captures[0].form["amount_to_capture"] == "1234"
    assert captures[0].headers["Idempotency-Key"] == f"reservation-{reservation.pk}-capture"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID and purchase.payment_method == "STRIPE"
    assert emitted == [(purchase.user_id, "PAYMENT", {"status": "success", "amount": Decimal("12.34")})]
    assert Reservation.objects.get(pk=reservation.pk).session_id == session.pk


def test_settling_never_captures_more_than_reserved(api, stripe_api, tag, commands, connector):
    reservation, session = _started_session(api, stripe_api, commands, connector)
    PurchaseFactory(session=session, user=session.user, total_price=Decimal("99.00"), priced_at=timezone.now())
    services.reservation_settle_for_session(session_id=session.pk)
    capture = stripe_api.calls("POST", "/v1/payment_intents/")[0]
    assert capture.form["amount_to_capture"] == "3920"
    assert Reservation.objects.get(pk=reservation.pk).captured_amount == Decimal("39.20")


def test_a_refused_capture_leaves_the_purchase_payable(api, stripe_api, tag, commands, connector):
    reservation, session = _started_session(api, stripe_api, commands, connector)
    purchase = PurchaseFactory(
        session=session, user=session.user, total_price=Decimal("5.00"), priced_at=timezone.now()
    )
    stripe_api.intents[f"pi_test_{reservation.checkout_session_id}"]["status"] = "canceled"  # authorisation expired
    assert tasks.settle_reservation_for_session(session.pk) is None
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.OPEN
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.FAILED
    assert not Payment.objects.filter(status="success").exists()


def test_the_session_is_stopped_at_the_energy_limit(api, stripe_api, tag, commands, connector):
    reservation, session = _started_session(api, stripe_api, commands, connector)
    session.meter_last_wh = session.meter_start_wh + 79_999
    session.save()
    assert services.reservation_check_energy_limit(session_id=session.pk) is False
    type(session).objects.filter(pk=session.pk).update(meter_last_wh=session.meter_start_wh + 80_000)
    assert services.reservation_check_energy_limit(session_id=session.pk) is True
    assert services.reservation_check_energy_limit(session_id=session.pk) is False  # not twice in a row
    assert commands.sent[-1] == ("station42", "RemoteStopTransaction", {"transactionId": int(session.transaction_id)})
    session.refresh_from_db()
    assert session.max_energy_wh == 80_000


def test_a_reservation_that_never_led_to_a_session_is_released(api, stripe_api, tag, commands):
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    Reservation.objects.filter(pk=reservation.pk).update(expires_at=timezone.now())
    assert tasks.release_stale_reservations() == 1
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.RELEASED
    assert stripe_api.intents[reservation.payment_intent_id]["status"] == "canceled"


def test_a_purchase_already_paid_otherwise_releases_the_hold_instead_of_capturing(
    api, stripe_api, tag, commands, connector
):
    reservation, session = _started_session(api, stripe_api, commands, connector)
    PurchaseFactory(
        session=session,
        user=session.user,
        total_price=Decimal("5.00"),
        priced_at=timezone.now(),
        status=Purchase.Status.PAID,
        paid_at=timezone.now(),
    )
    result = services.reservation_settle_for_session(session_id=session.pk)
    assert result.status == "released"
    assert not stripe_api.calls("POST", f"/v1/payment_intents/{reservation.payment_intent_id}/capture")
    assert stripe_api.intents[reservation.payment_intent_id]["status"] == "canceled"


def test_an_event_stored_but_never_processed_is_applied_on_redelivery(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    event = _completed_event(reservation)
    WebhookEvent.objects.create(provider="stripe", event_id=event["id"], event_type=event["type"], payload=event)
    assert _webhook(client, event).json()["result"] == "processed"
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.AUTHORIZED
    assert _webhook(client, event).json()["result"] == "duplicate"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("charger_says", ["Accepted", "Rejected"])
def test_concurrent_confirms_send_one_start_and_all_report_the_chargers_answer(
    api, stripe_api, tag, commands, charger_says, monkeypatch
):
    # Issue 18: three concurrent Confirms all answered Accepted before the one real start
    # was answered. Now one start is sent, the others wait for it and report its answer.
    import threading

    from django.db import connection
    from django.test import Client

    from ocpp_consumer import commands as bus
    from tests.payments.conftest import API_KEY

    started = threading.Event()
    real_send = commands.send

    def slow_send(*args, **kwargs):
        started.set()
        time.sleep(1.0)  # (the charger takes its time to answer)
        return real_send(*args, **kwargs)

    monkeypatch.setattr(bus, "send", slow_send)
    commands.answer = {"status": charger_says}
    body = _create(api, stripe_api)
    reservation = Reservation.objects.get(pk=body["reservationId"])
    stripe_api.complete(reservation.checkout_session_id)
    services._reservation_refresh(reservation=reservation)
    answers: list = []

    def confirm():
        try:
            response = Client().post(
                "/API/Payments/Confirm",
                data=json.dumps(
                    {"reservationId": body["reservationId"], "checkoutSessionId": reservation.checkout_session_id}
                ),
                content_type="application/json",
                HTTP_X_API_KEY=API_KEY,
            )
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    first = threading.Thread(target=confirm)
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(30)
    assert answers == [(200, {"status": charger_says})] * 3
    assert len(commands.sent) == 1


def test_an_unusable_idempotency_key_is_refused_before_anything_is_created(api, stripe_api, tag):
    too_long = _create_with(api, CREATE, "k" * 256)
    assert too_long.status_code == 400 and "Idempotency-Key" in too_long.json()["message"]
    assert Reservation.objects.count() == 0 and stripe_api.calls("POST", "/v1/checkout/sessions") == []
