"""End to end: connector reservations through /api/operator/ on a real daphne process,
with simulated 1.6 and 2.0.1 chargers over real sockets. Each test checks what the charger
holds, and what a start on the reserved connector gets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from ocpp.v201 import call as call201

from chargepoints.models import ChargePoint, ConnectorReservation, IdToken
from sessions_app.models import ChargeSession
from tests.support.chargers import eventually, simulated, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _charger(operator_setup, **fields) -> ChargePoint:
    return await sync_to_async(operator_setup[1])(**fields)


def _in(minutes: int) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def _reservation(pk: int) -> ConnectorReservation:
    return ConnectorReservation.objects.get(pk=pk)


async def _reserve(operator_tool, cp: ChargePoint, connector: int, tag: str, expected: int = 201) -> dict:
    answer = await operator_tool.post(
        "reservations/create/",
        {"charge_point": cp.identity, "connector": connector, "id_tag": tag, "expires_at": _in(30)},
    )
    assert answer.status_code == expected, answer.text
    return answer.json()


async def test_a_16_reservation_admits_only_its_tag_and_the_start_uses_it(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    for tag in ("TAG-MINE", "TAG-OTHER"):
        await sync_to_async(IdToken.objects.create)(uid=tag)
    async with simulated(server, cp.identity, meter_interval=0.3) as charger:
        made = await _reserve(operator_tool, cp, 1, "TAG-MINE")
        reservation_id = made["reservation"]["reservation_id"]
        assert made["answer"] == {"status": "Accepted"}
        assert made["reservation"]["status"] == "accepted"
        assert charger.state.reservations == {reservation_id: 1}
        assert await eventually(lambda: cp.connectors.get(connector_id=1).status == "Reserved")

        # Another card on the reserved connector: refused, and the reservation stays.
        refused = await charger.start_transaction(1, "TAG-OTHER", meter_loop=False)
        assert refused.id_tag_info["status"] == "Invalid"
        assert (await sync_to_async(_reservation)(reservation_id)).status == "accepted"

        # The reserving card starts, and its session uses the reservation.
        started = await charger.start_transaction(1, "TAG-MINE", meter_loop=False)
        assert started.id_tag_info["status"] == "Accepted"
        session = await sync_to_async(ChargeSession.objects.get)(transaction_id=str(started.transaction_id))
        assert session.connector_reservation_id == reservation_id
        used = await sync_to_async(_reservation)(reservation_id)
        assert used.status == "used"

        listed = (await operator_tool.get("reservations/", charge_point=cp.identity)).json()["results"]
        assert [(r["reservation_id"], r["status"], r["session"]) for r in listed] == [
            (reservation_id, "used", session.pk)
        ]


async def test_a_16_start_naming_its_reservation_links_it(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-NAMED")
    async with simulated(server, cp.identity) as charger:
        made = await _reserve(operator_tool, cp, 2, "TAG-NAMED")
        reservation_id = made["reservation"]["reservation_id"]
        frames_before = charger.state.reservations.copy()
        started = await charger.start_transaction(2, "TAG-NAMED", meter_loop=False)
        assert frames_before == {reservation_id: 2} and charger.state.reservations == {}
        assert started.id_tag_info["status"] == "Accepted"
        session = await sync_to_async(ChargeSession.objects.get)(transaction_id=str(started.transaction_id))
        assert session.connector_reservation_id == reservation_id
        # The StartTransaction the charger sent named the reservation.
        frame = await sync_to_async(
            lambda: cp.messages.filter(action="StartTransaction", direction="in").latest("created_at")
        )()
        assert frame.payload["reservationId"] == reservation_id


async def test_cancelling_a_16_reservation_frees_the_connector_on_the_charger(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated(server, cp.identity) as charger:
        reservation_id = (await _reserve(operator_tool, cp, 1, "TAG-C"))["reservation"]["reservation_id"]
        # A second reservation of the same connector is refused before anything is sent.
        second = await _reserve(operator_tool, cp, 1, "TAG-D", expected=409)
        assert second["code"] == "connector_reserved"
        assert charger.commands_received.count("ReserveNow") == 1

        cancelled = await operator_tool.post(f"reservations/{reservation_id}/cancel/")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["answer"] == {"status": "Accepted"}
        assert cancelled.json()["reservation"]["status"] == "cancelled"
        assert charger.state.reservations == {}
        assert await eventually(lambda: cp.connectors.get(connector_id=1).status == "Available")
        # Cancelling again: not live any more, nothing sent.
        again = await operator_tool.post(f"reservations/{reservation_id}/cancel/")
        assert again.status_code == 409 and charger.commands_received.count("CancelReservation") == 1


async def test_an_occupied_connector_refuses_the_reservation(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(IdToken.objects.create)(uid="TAG-BUSY")
    async with simulated(server, cp.identity) as charger:
        await charger.start_transaction(1, "TAG-BUSY", meter_loop=False)
        refused = await _reserve(operator_tool, cp, 1, "TAG-LATE", expected=409)
        assert refused["answer"] == {"status": "Occupied"}
        assert refused["reservation"]["status"] == "refused"
        assert refused["reservation"]["charger_status"] == "Occupied"
    # Offline: nothing is sent and the reservation does not keep the connector.
    offline = await _reserve(operator_tool, cp, 2, "TAG-LATE", expected=409)
    assert offline["status"] == "Offline"
    assert offline["reservation"]["status"] == "refused" and offline["reservation"]["charger_status"] == "NotSent"


async def test_a_201_reservation_is_sent_translated_cancelled_and_expired_by_the_station(
    server, operator_tool, operator_setup
):
    cp = await _charger(operator_setup)
    for tag in ("TAG-201", "TAG-201-OTHER"):
        await sync_to_async(IdToken.objects.create)(uid=tag)
    async with simulated201(server, cp.identity) as station:
        first = (await _reserve(operator_tool, cp, 1, "TAG-201"))["reservation"]["reservation_id"]
        assert station.state.reservations == {first: 1}
        cancelled = await operator_tool.post(f"reservations/{first}/cancel/")
        assert cancelled.status_code == 200 and cancelled.json()["reservation"]["status"] == "cancelled"
        assert station.state.reservations == {}

        # The station reports that a reservation expired: applied.
        second = (await _reserve(operator_tool, cp, 1, "TAG-201"))["reservation"]["reservation_id"]
        await station.call(call201.ReservationStatusUpdate(reservation_id=second, reservation_update_status="Expired"))
        expired = await sync_to_async(_reservation)(second)
        assert (expired.status, expired.charger_status) == ("expired", "Expired")

        # A third: another token is refused on the reserved EVSE, the reserving one uses it.
        third = (await _reserve(operator_tool, cp, 1, "TAG-201"))["reservation"]["reservation_id"]
        frame = await sync_to_async(lambda: cp.messages.filter(action="ReserveNow", direction="out").latest("id"))()
        assert frame.payload["id"] == third and frame.payload["idToken"]["idToken"] == "TAG-201"
        other = await station.start_transaction(1, "TAG-201-OTHER", meter_loop=False)
        refused = await eventually(
            lambda: ChargeSession.objects.filter(transaction_id=other.transaction_id).exclude(authorization="").first()
        )
        assert refused.authorization == "NotAtThisTime"
        assert (await sync_to_async(_reservation)(third)).status == "accepted"
        await eventually(lambda: 1 not in station.state.transactions)
        station.state.reservations[third] = 1  # the refused start consumed the station's copy
        mine = await station.start_transaction(1, "TAG-201", meter_loop=False)
        session = await eventually(
            lambda: ChargeSession.objects.filter(transaction_id=mine.transaction_id, authorization="Accepted").first()
        )
        assert session.connector_reservation_id == third
        assert (await sync_to_async(_reservation)(third)).status == "used"


async def test_the_expiry_job_ends_reservations_past_their_time(server, operator_tool, operator_setup):
    from chargepoints.tasks import connector_reservations_expire

    cp = await _charger(operator_setup)
    async with simulated(server, cp.identity):
        reservation_id = (await _reserve(operator_tool, cp, 1, "TAG-E"))["reservation"]["reservation_id"]
    await sync_to_async(ConnectorReservation.objects.filter(pk=reservation_id).update)(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert await sync_to_async(connector_reservations_expire)() == 1
    assert await sync_to_async(connector_reservations_expire)() == 0
    assert (await sync_to_async(_reservation)(reservation_id)).status == "expired"
