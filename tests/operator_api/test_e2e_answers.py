"""What /API/ answers when the charger answers nonsense, when a connector is busy or
unknown (issue 18): a real daphne, a charger speaking raw OCPP-J frames."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import IdToken, OcppMessage
from sessions_app.models import ChargeSession
from tests.support.chargers import PASSWORD
from tests.support.outages import RawCharger

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _booted(server, operator_setup, answers: dict) -> tuple:
    cp = await sync_to_async(operator_setup[1])()
    charger = await RawCharger.connect(server, cp.identity, PASSWORD, answers=answers)
    assert (await charger.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))[0] == 3
    return cp, charger


@pytest.mark.parametrize(
    "answer",
    [{"status": "Bogus"}, {}, {"status": "Accepted", "extra": 1}, {"status": 7}],
    ids=["unknown-status", "missing-status", "extra-field", "wrong-type"],
)
async def test_an_answer_that_breaks_the_schema_is_a_502_with_the_reason(server, tool, operator_setup, answer):
    cp, charger = await _booted(server, operator_setup, {"Reset": answer})
    response = await tool.get(f"Reset/{cp.identity}")
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["status"] == "InvalidAnswer" and "Reset" in body["detail"] and "invalid" in body["detail"]
    # The journal keeps what the charger said.
    stored = await OcppMessage.objects.filter(charge_point=cp, action="Reset", message_type=3).alatest("created_at")
    assert stored.payload == answer
    await charger.close()


async def test_a_valid_answer_still_passes(server, tool, operator_setup):
    cp, charger = await _booted(server, operator_setup, {"Reset": {"status": "Rejected"}})
    assert await tool.json(f"Reset/{cp.identity}") == {"status": "Rejected"}
    await charger.close()


async def test_remote_start_on_a_connector_with_an_open_session_is_409_and_not_sent(server, tool, operator_setup):
    cp, charger = await _booted(server, operator_setup, {"RemoteStartTransaction": {"status": "Accepted"}})
    await sync_to_async(IdToken.objects.create)(uid="TAG-BUSY")
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    started = await charger.call(
        "StartTransaction", {"connectorId": 1, "idTag": "TAG-BUSY", "meterStart": 10, "timestamp": now}
    )
    assert started[0] == 3
    busy = await tool.get(f"RemoteStartTransaction/{cp.identity}/1/TAG-BUSY")
    assert busy.status_code == 409 and busy.json()["status"] == "Rejected", busy.text
    assert charger.received_calls == []  # nothing reached the charger
    session = await ChargeSession.objects.aget(charge_point=cp)
    assert session.status == "active"  # not closed as "replaced"
    # The other connector is free.
    assert await tool.json(f"RemoteStartTransaction/{cp.identity}/2/TAG-BUSY") == {"status": "Accepted"}
    await charger.close()


async def test_unlock_of_a_connector_the_charger_does_not_have_answers_unknown_connector(server, tool, operator_setup):
    cp, charger = await _booted(server, operator_setup, {"UnlockConnector": {"status": "Unlocked"}})
    assert await tool.json(f"UnlockConnector/{cp.identity}/9") == {"status": "UnknownConnector"}
    assert charger.received_calls == []
    assert await tool.json(f"UnlockConnector/{cp.identity}/1") == {"status": "Unlocked"}
    await charger.close()
