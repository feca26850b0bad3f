"""The seed-004 pre-authorisation flow offline: the sandbox stands in for Stripe."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from accounts.secrets import token_hash
from billing.models import Purchase
from payments import services
from payments.models import Reservation, SandboxInvoice
from tests.factories import ChargeSessionFactory, ConnectorFactory, IdTokenFactory, PurchaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_real_providers")]


def test_reserve_authorise_start_and_capture_offline(client, monkeypatch, django_capture_on_commit_callbacks):
    from ocpp_consumer import commands

    sent = []
    monkeypatch.setattr(
        commands,
        "send",
        lambda cp, action, payload, timeout=None, source="": (
            sent.append((cp, action, payload)) or {"status": "Accepted"}
        ),
    )
    connector = ConnectorFactory(charge_point__identity="station7", charge_point__is_online=True)
    IdTokenFactory(uid="tag7")
    ApiKey.objects.create(
        operator=connector.charge_point.site.operator, name="k", prefix="k", key_hash=token_hash("key-7")
    )

    def post(path, body):
        return client.post(
            f"/API/Payments/{path}", data=json.dumps(body), content_type="application/json", HTTP_X_API_KEY="key-7"
        )

    created = post("Create", {"chargePointId": "station7", "connectorId": 1, "chargeTagId": "tag7"}).json()
    assert created["status"] == "Redirect" and "/payments/sandbox/" in created["checkoutUrl"]
    reservation = Reservation.objects.get(pk=created["reservationId"])
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(re.sub(r"^https?://[^/]+", "", created["checkoutUrl"]), {"outcome": "pay"})
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.AUTHORIZED
    # Back to the success URL with the checkout session id, as Stripe Checkout does (issue
    # 18): the client reads it from there, without parsing the pay page's address.
    assert paid.status_code == 302
    back = urlsplit(paid["Location"])
    assert back.path == "/payments/reservations/return/"
    query = parse_qs(back.query)
    assert query["reservationId"] == [created["reservationId"]]
    assert query["session_id"] == [reservation.checkout_session_id]

    confirmed = post(
        "Confirm", {"reservationId": created["reservationId"], "checkoutSessionId": query["session_id"][0]}
    )
    assert confirmed.json() == {"status": "Accepted"}
    assert sent == [("station7", "RemoteStartTransaction", {"connectorId": 1, "idTag": "tag7"})]

    session = ChargeSessionFactory(
        connector=connector,
        id_tag="tag7",
        started_at=timezone.now(),
        status="completed",
        stopped_at=timezone.now(),
        meter_stop_wh=5000,
    )
    purchase = PurchaseFactory(
        session=session, user=session.user, total_price=Decimal("4.10"), priced_at=timezone.now()
    )
    result = services.reservation_settle_for_session(session_id=session.pk)
    assert result.status == "captured" and result.captured_amount == Decimal("4.10")
    invoice = SandboxInvoice.objects.get(reference=reservation.checkout_session_id)
    assert invoice.status == "captured" and invoice.captured_amount == Decimal("4.10")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_a_settlement_run_again_after_the_provider_captured_records_that_one_capture(monkeypatch):
    """With late acknowledgement a worker lost mid-task runs the task again: here right after
    the provider took the money, before anything of it was stored, and the purchase was
    re-priced in between. The second run asks for the amount first claimed, which the
    provider answers as the capture it already made: one capture, one payment."""
    from billing.services import purchase_set_total_price
    from payments import tasks
    from payments.models import Payment
    from payments.providers.sandbox import SandboxProvider

    connector = ConnectorFactory(charge_point__identity="station8", charge_point__is_online=True)
    IdTokenFactory(uid="tag8")
    reservation = services.reservation_create(identity="station8", connector_id=1, charge_tag="tag8")
    services.sandbox_invoice_decide(reference=reservation.checkout_session_id, outcome="pay")
    services.sandbox_notification_handle(reference=reservation.checkout_session_id, event_id="sbx-pay-8")
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.AUTHORIZED
    session = ChargeSessionFactory(
        connector=connector,
        id_tag="tag8",
        started_at=timezone.now(),
        status="completed",
        stopped_at=timezone.now(),
        meter_stop_wh=5000,
    )
    purchase = PurchaseFactory(
        session=session, user=session.user, total_price=Decimal("4.10"), priced_at=timezone.now()
    )

    capture = SandboxProvider.hold_capture

    def capture_then_lose_the_worker(self, reservation, *, amount):
        capture(self, reservation, amount=amount)
        raise SystemExit("worker killed")

    monkeypatch.setattr(SandboxProvider, "hold_capture", capture_then_lose_the_worker)
    with pytest.raises(SystemExit):
        tasks.settle_reservation_for_session(session.pk)
    monkeypatch.setattr(SandboxProvider, "hold_capture", capture)
    purchase_set_total_price(purchase_id=purchase.pk, total_price="4.60")

    assert tasks.settle_reservation_for_session(session.pk) == "captured"
    assert tasks.settle_reservation_for_session(session.pk) == "captured"

    reservation.refresh_from_db()
    assert reservation.captured_amount == Decimal("4.10")
    invoice = SandboxInvoice.objects.get(reference=reservation.checkout_session_id)
    assert invoice.status == "captured" and invoice.captured_amount == Decimal("4.10")
    payments = Payment.objects.filter(purchase=purchase)
    assert [(p.status, p.amount) for p in payments] == [("success", Decimal("4.10"))]
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_the_sandbox_pay_page_returns_to_the_cancel_url_when_the_driver_cancels(client, monkeypatch):
    connector = ConnectorFactory(charge_point__identity="station9", charge_point__is_online=True)
    ApiKey.objects.create(
        operator=connector.charge_point.site.operator, name="k", prefix="k9", key_hash=token_hash("key-9")
    )
    created = client.post(
        "/API/Payments/Create",
        data=json.dumps({"chargePointId": "station9", "connectorId": 1, "chargeTagId": "tag9"}),
        content_type="application/json",
        HTTP_X_API_KEY="key-9",
    ).json()
    canceled = client.post(re.sub(r"^https?://[^/]+", "", created["checkoutUrl"]), {"outcome": "cancel"})
    assert canceled.status_code == 302
    query = parse_qs(urlsplit(canceled["Location"]).query)
    assert query == {"reservationId": [created["reservationId"]], "canceled": ["1"]}
