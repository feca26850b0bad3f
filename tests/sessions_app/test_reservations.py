"""A 1.6 StartTransaction on a reserved connector: only the reserving tag (or a card of the
group tag it was made for) starts; the session uses the reservation; an expired one keeps
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chargepoints.models import ConnectorReservation, IdToken
from chargepoints.services import charge_point_add
from sessions_app import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def cp():
    return charge_point_add(identity="CP-RES", password="pw-123456789", connector_count=2)


def _reserve(cp, connector_id: int, id_tag: str, *, minutes: int = 30) -> ConnectorReservation:
    return ConnectorReservation.objects.create(
        charge_point=cp,
        connector=cp.connectors.get(connector_id=connector_id),
        id_tag=id_tag,
        expires_at=timezone.now() + timedelta(minutes=minutes),
        status="accepted",
    )


def _start(cp, connector_id: int, id_tag: str, reservation_id: int | None = None):
    return services.charge_session_start(
        charge_point_id=cp.pk,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start_wh=0,
        timestamp=timezone.now(),
        reservation_id=reservation_id,
    )


def test_a_card_of_the_reserving_group_starts_and_a_stranger_does_not(cp):
    IdToken.objects.create(uid="CHILD", group_uid="FLEET")
    IdToken.objects.create(uid="STRANGER")
    reservation = _reserve(cp, 1, "FLEET")
    session, info = _start(cp, 1, "STRANGER")
    assert info["status"] == "Invalid" and session.connector_reservation_id is None
    services.charge_session_stop(
        charge_point_id=cp.pk, transaction_id=session.transaction_id, meter_stop_wh=0, timestamp=timezone.now()
    )
    session, info = _start(cp, 1, "CHILD")
    assert info["status"] == "Accepted" and session.connector_reservation_id == reservation.pk
    reservation.refresh_from_db()
    assert reservation.status == "used"


def test_the_reservation_the_charger_names_is_used_even_on_another_connector(cp):
    # OCPP 1.6 lets a charger serve a reservation on any connector (connector 0 reservations).
    IdToken.objects.create(uid="MINE")
    reservation = _reserve(cp, 1, "MINE")
    session, info = _start(cp, 2, "MINE", reservation_id=reservation.pk)
    assert info["status"] == "Accepted" and session.connector_reservation_id == reservation.pk


def test_an_expired_reservation_keeps_nothing(cp):
    IdToken.objects.create(uid="LATE")
    IdToken.objects.create(uid="OTHER")
    _reserve(cp, 1, "LATE", minutes=-1)
    session, info = _start(cp, 1, "OTHER")
    assert info["status"] == "Accepted" and session.connector_reservation_id is None
