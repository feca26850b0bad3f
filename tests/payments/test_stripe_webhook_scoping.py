"""A signed Stripe checkout.session.completed authorises only the Stripe reservation whose
checkout session it is (issue 16, minor; a payments test, so it lives with them): the reservation id in metadata is chosen by
whoever creates a checkout session on the account, so it alone proves nothing."""

from __future__ import annotations

import pytest

from payments.models import Provider, Reservation
from tests.payments.test_stripe_reservations import _completed_event, _create, _webhook

pytestmark = pytest.mark.django_db


def test_a_completed_checkout_of_another_session_does_not_authorise_a_reservation(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    event = _completed_event(reservation)
    event["data"]["object"]["id"] = "cs_test_someone_elses_session"
    assert _webhook(client, event).status_code == 200
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.PENDING and not reservation.payment_intent_id


def test_a_completed_checkout_does_not_authorise_a_reservation_of_another_provider(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    Reservation.objects.filter(pk=reservation.pk).update(provider=Provider.SANDBOX)
    assert _webhook(client, _completed_event(reservation, event_id="evt_2")).status_code == 200
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.PENDING


def test_its_own_completed_checkout_still_authorises_it(api, stripe_api, tag, client):
    reservation = Reservation.objects.get(pk=_create(api, stripe_api)["reservationId"])
    assert _webhook(client, _completed_event(reservation, event_id="evt_3")).json()["result"] == "processed"
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.AUTHORIZED
