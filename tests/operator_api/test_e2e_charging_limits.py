"""End to end: the limits set through /API/SetChargingLimit listed per charger under
/api/operator/ and cleared from there, on a real daphne process with simulated 1.6 and
2.0.1 chargers; each test checks the limit the charger applies."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import ChargePoint
from tests.support.chargers import simulated, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _charger(operator_setup, **fields) -> ChargePoint:
    return await sync_to_async(operator_setup[1])(**fields)


async def _limits(operator_tool, cp: ChargePoint, **params) -> list[dict]:
    answer = await operator_tool.get(f"charge-points/{cp.identity}/charging-limits/", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_16_limits_are_listed_and_one_is_cleared_on_the_charger(server, tool, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated(server, cp.identity, power_w=11000) as charger:
        assert await tool.json(f"SetChargingLimit/{cp.identity}/1/2000W") == {"status": "Accepted"}
        assert await tool.json(f"SetChargingLimit/{cp.identity}/0/10A") == {"status": "Accepted"}
        listed = await _limits(operator_tool, cp)
        assert [(row["connector"], row["limit"], row["unit"], row["purpose"], row["status"]) for row in listed] == [
            (0, 10.0, "A", "ChargePointMaxProfile", "active"),
            (1, 2000.0, "W", "TxDefaultProfile", "active"),
        ]
        assert charger.power_limit_w(1) == pytest.approx(2000)

        connector_limit = listed[1]
        cleared = await operator_tool.post(
            f"charge-points/{cp.identity}/charging-limits/{connector_limit['id']}/clear/"
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["answer"] == {"status": "Accepted"} and cleared.json()["status"] == "cleared"
        assert charger.power_limit_w(1) == pytest.approx(10 * 230 * 3)  # only the charger-wide limit is left
        assert [row["connector"] for row in await _limits(operator_tool, cp)] == [0]
        assert {row["status"] for row in await _limits(operator_tool, cp, status="all")} == {"active", "cleared"}
        again = await operator_tool.post(f"charge-points/{cp.identity}/charging-limits/{connector_limit['id']}/clear/")
        assert again.status_code == 404

        # The charger lost the other one (a reboot): it answers Unknown, and the row is not live any more.
        charger.state.profiles.clear()
        gone = await operator_tool.post(f"charge-points/{cp.identity}/charging-limits/{listed[0]['id']}/clear/")
        assert gone.json()["answer"] == {"status": "Unknown"} and gone.json()["status"] == "cleared"
        assert await _limits(operator_tool, cp) == []


async def test_a_201_limit_is_cleared_by_its_profile_id(server, tool, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    async with simulated201(server, cp.identity, power_w=11000) as station:
        assert await tool.json(f"SetChargingLimit/{cp.identity}/1/3000W") == {"status": "Accepted"}
        [limit] = await _limits(operator_tool, cp)
        assert (limit["connector"], limit["limit"], limit["purpose"]) == (1, 3000.0, "TxDefaultProfile")
        assert station.state.profiles
        cleared = await operator_tool.post(f"charge-points/{cp.identity}/charging-limits/{limit['id']}/clear/")
        assert cleared.status_code == 200 and cleared.json()["answer"] == {"status": "Accepted"}
        assert station.state.profiles == {}
        frame = await sync_to_async(
            lambda: cp.messages.filter(action="ClearChargingProfile", direction="out").latest("id")
        )()
        assert frame.payload == {"chargingProfileId": limit["profile_id"]}
