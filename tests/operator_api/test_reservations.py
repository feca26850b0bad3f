"""/api/operator/reservations/: list filters, scoping, permissions, input errors (the
charger is the fake bus here; test_e2e_reservations.py talks to simulated chargers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from chargepoints.models import ConnectorReservation
from tests.support.clients import make_api_key

pytestmark = pytest.mark.django_db
API = "/api/operator"


def _reservation(charge_point, connector_id=1, **fields) -> ConnectorReservation:
    fields.setdefault("expires_at", timezone.now() + timedelta(hours=1))
    fields.setdefault("status", "accepted")
    return ConnectorReservation.objects.create(
        charge_point=charge_point,
        connector=charge_point.connectors.get(connector_id=connector_id),
        id_tag=fields.pop("id_tag", "TAG"),
        **fields,
    )


def test_the_list_filters_by_charger_status_and_expiry_and_hides_other_operators(client, charger, foreign_charger):
    soon = _reservation(charger, 1, expires_at=timezone.now() + timedelta(minutes=5))
    later = _reservation(charger, 2, expires_at=timezone.now() + timedelta(days=2))
    old = _reservation(charger, 1, status="expired", expires_at=timezone.now() - timedelta(days=1))
    _reservation(foreign_charger, 1)

    def ids(**params):
        answer = client.get(f"{API}/reservations/", params)
        assert answer.status_code == 200, answer.content
        return {row["reservation_id"] for row in answer.json()["results"]}

    assert ids() == {soon.pk, later.pk, old.pk}
    assert ids(status="accepted") == {soon.pk, later.pk}
    assert ids(charge_point="station42", status="expired") == {old.pk}
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert ids(expires_after=tomorrow) == {later.pk}
    assert ids(expires_before=timezone.now().isoformat()) == {old.pk}
    assert ids(charge_point="elsewhere") == set()
    assert client.get(f"{API}/reservations/", {"status": "bogus"}).status_code == 400


def test_another_operators_reservation_is_not_found(client, foreign_charger, bus):
    foreign = _reservation(foreign_charger)
    assert client.get(f"{API}/reservations/{foreign.pk}/").status_code == 404
    assert client.post(f"{API}/reservations/{foreign.pk}/cancel/").status_code == 404
    answer = client.post(
        f"{API}/reservations/create/",
        {"charge_point": "elsewhere", "connector": 1, "id_tag": "T", "expires_at": timezone.now() + timedelta(hours=1)},
        format="json",
    )
    assert answer.status_code == 404 and bus.calls == []


def test_a_read_only_key_may_list_but_not_reserve(operator, charger, bus):
    from rest_framework.test import APIClient

    reader = APIClient()
    key = make_api_key(operator)
    ApiKey.objects.filter(operator=operator).update(scope=ApiKey.Scope.READ)
    reader.credentials(HTTP_X_API_KEY=key)
    assert reader.get(f"{API}/reservations/").status_code == 200
    body = {
        "charge_point": "station42",
        "connector": 1,
        "id_tag": "T",
        "expires_at": timezone.now() + timedelta(hours=1),
    }
    assert reader.post(f"{API}/reservations/create/", body, format="json").status_code == 403
    assert bus.calls == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_at": "2001-01-01T00:00:00Z"}, "code"),
        ({"id_tag": "X" * 21}, "code"),  # an OCPP 1.6 idTag has at most 20 characters
        ({"connector": 0}, "connector"),
        ({"expires_at": "tomorrow"}, "expires_at"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(client, charger, bus, body, field):
    request = {
        "charge_point": "station42",
        "connector": 1,
        "id_tag": "T",
        "expires_at": timezone.now() + timedelta(hours=1),
    }
    answer = client.post(f"{API}/reservations/create/", {**request, **body}, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert bus.calls == [] and not ConnectorReservation.objects.exists()


def test_the_reserve_now_sent_names_the_reservation(client, charger, bus):
    expires = timezone.now() + timedelta(hours=1)
    answer = client.post(
        f"{API}/reservations/create/",
        {"charge_point": "station42", "connector": 2, "id_tag": "CARD", "expires_at": expires.isoformat()},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    reservation = ConnectorReservation.objects.get()
    [(identity, action, payload)] = bus.calls
    assert (identity, action) == ("station42", "ReserveNow")
    assert payload == {
        "connectorId": 2,
        "idTag": "CARD",
        "reservationId": reservation.pk,
        "expiryDate": payload["expiryDate"],
    }
    assert payload["expiryDate"].endswith("Z")
    assert (reservation.status, reservation.charger_status, reservation.source) == ("accepted", "Accepted", "api")


def test_a_timeout_leaves_the_reservation_requested_until_it_expires(client, charger, bus):
    bus.raises["ReserveNow"] = bus.error("CommandTimeout", "no answer")
    body = {
        "charge_point": "station42",
        "connector": 1,
        "id_tag": "T",
        "expires_at": timezone.now() + timedelta(hours=1),
    }
    answer = client.post(f"{API}/reservations/create/", body, format="json")
    assert answer.status_code == 504
    assert answer.json()["reservation"]["status"] == "requested"
    assert answer.json()["reservation"]["charger_status"] == "Timeout"
