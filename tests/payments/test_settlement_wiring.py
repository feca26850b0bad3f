"""A finished pre-paid session is captured once billing prices it, and a pre-paid session is
stopped when it reaches the energy it reserved — without anyone calling payments by hand."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from accounts.secrets import token_hash
from billing.models import Purchase
from billing.services import purchase_create_for_session
from payments import services
from payments.models import Reservation
from tariffs.models import TariffAssignment
from tests.factories import ChargeSessionFactory, ConnectorFactory, IdTokenFactory, TariffFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_real_providers")]


@pytest.fixture
def charger_answers(monkeypatch):
    from ocpp_consumer import commands

    sent = []
    monkeypatch.setattr(
        commands,
        "send",
        lambda cp, action, payload, timeout=None, source="": (
            sent.append((cp, action, payload)) or {"status": "Accepted"}
        ),
    )
    return sent


@pytest.fixture
def authorised_reservation(client, charger_answers, django_capture_on_commit_callbacks):
    connector = ConnectorFactory(charge_point__identity="prepaid-1", charge_point__is_online=True)
    tariff = TariffFactory(operator=connector.charge_point.site.operator, energy_price_per_kwh=Decimal("0.40"))
    TariffAssignment.objects.create(
        tariff=tariff, site=connector.charge_point.site, valid_from=timezone.now() - timedelta(days=1)
    )
    IdTokenFactory(uid="prepaid-tag")
    ApiKey.objects.create(
        operator=connector.charge_point.site.operator, name="k", prefix="k", key_hash=token_hash("key-p")
    )

    def post(path, body):
        return client.post(
            f"/API/Payments/{path}", data=json.dumps(body), content_type="application/json", HTTP_X_API_KEY="key-p"
        )

    created = post("Create", {"chargePointId": "prepaid-1", "connectorId": 1, "chargeTagId": "prepaid-tag"}).json()
    reservation = Reservation.objects.get(pk=created["reservationId"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(re.sub(r"^https?://[^/]+", "", created["checkoutUrl"]), {"outcome": "pay"})
    reservation.refresh_from_db()
    assert post(
        "Confirm", {"reservationId": str(reservation.pk), "checkoutSessionId": reservation.checkout_session_id}
    ).json() == {"status": "Accepted"}
    # The driver paid and the remote start went out before the charger reported the session.
    Reservation.objects.filter(pk=reservation.pk).update(created_at=timezone.now() - timedelta(hours=2))
    reservation.refresh_from_db()
    return reservation


def test_pricing_a_finished_prepaid_session_captures_its_cost(
    authorised_reservation, django_capture_on_commit_callbacks
):
    started = timezone.now() - timedelta(hours=1)
    session = ChargeSessionFactory(
        connector=authorised_reservation.connector,
        id_tag="prepaid-tag",
        started_at=started,
        meter_start_wh=0,
        status="completed",
        stopped_at=started + timedelta(minutes=30),
        meter_stop_wh=10_000,
    )
    with django_capture_on_commit_callbacks(execute=True):
        purchase = purchase_create_for_session(session_id=session.pk)

    assert purchase.total_price == Decimal("4.00")
    authorised_reservation.refresh_from_db()
    assert authorised_reservation.status == Reservation.Status.CAPTURED
    assert authorised_reservation.captured_amount == Decimal("4.00")
    assert authorised_reservation.session_id == session.pk
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID


def test_pricing_a_running_session_captures_nothing(authorised_reservation, django_capture_on_commit_callbacks):
    session = ChargeSessionFactory(
        connector=authorised_reservation.connector,
        id_tag="prepaid-tag",
        started_at=timezone.now() - timedelta(minutes=5),
        meter_start_wh=0,
        meter_last_wh=3000,
    )
    with django_capture_on_commit_callbacks(execute=True):
        purchase_create_for_session(session_id=session.pk)
    authorised_reservation.refresh_from_db()
    assert authorised_reservation.status == Reservation.Status.STARTED
    assert authorised_reservation.captured_amount is None


def test_a_prepaid_session_is_stopped_once_it_reaches_the_reserved_energy(authorised_reservation, charger_answers):
    session = ChargeSessionFactory(
        connector=authorised_reservation.connector,
        id_tag="prepaid-tag",
        transaction_id="77",
        started_at=timezone.now() - timedelta(minutes=5),
        meter_start_wh=0,
        meter_last_wh=authorised_reservation.max_energy_wh - 1,
    )
    charger_answers.clear()
    assert services.reservation_enforce_energy_limits() == 0
    assert charger_answers == []

    session.meter_last_wh = authorised_reservation.max_energy_wh
    session.save(update_fields=["meter_last_wh"])
    assert services.reservation_enforce_energy_limits() == 1
    assert charger_answers == [("prepaid-1", "RemoteStopTransaction", {"transactionId": 77})]
    # Asked once: the next sweep does not repeat the stop while the charger handles it.
    assert services.reservation_enforce_energy_limits() == 0
