"""End to end: local authorisation lists synchronised from the id-token table through
/api/operator/, on a real daphne process with simulated 1.6 and 2.0.1 chargers; each test
checks the list the charger ends up holding."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chargepoints.models import ChargePoint, IdToken, LocalAuthList
from tests.factories import OperatorFactory
from tests.support.chargers import simulated, simulated201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


async def _charger(operator_setup, **fields) -> ChargePoint:
    return await sync_to_async(operator_setup[1])(**fields)


def _tokens_of(cp: ChargePoint, *specs: tuple[str, dict]) -> None:
    operator = ChargePoint.objects.select_related("site").get(pk=cp.pk).site.operator
    for uid, fields in specs:
        IdToken.objects.create(uid=uid, operator=operator, **fields)


async def _sync(operator_tool, cp: ChargePoint, update_type: str | None = None, expected: int = 200) -> dict:
    body = {"update_type": update_type} if update_type else {}
    answer = await operator_tool.post(f"charge-points/{cp.identity}/local-list/sync/", body)
    assert answer.status_code == expected, answer.text
    return answer.json()


def _statuses(local_list: dict) -> dict[str, str]:
    return {uid: info["status"] for uid, info in local_list.items()}


async def test_a_16_list_goes_full_then_differential_then_full_again_after_the_charger_lost_it(
    server, operator_tool, operator_setup
):
    cp = await _charger(operator_setup)
    await sync_to_async(_tokens_of)(
        cp,
        ("CARD-A", {}),
        ("CARD-B", {"status": "Blocked"}),
        ("CARD-C", {"expires_at": timezone.now() - timedelta(days=1)}),
        ("CARD-TOO-LONG-FOR-OCPP16", {}),
    )
    await sync_to_async(IdToken.objects.create)(uid="NOT-MINE", operator=await sync_to_async(OperatorFactory)())
    async with simulated(server, cp.identity) as charger:
        first = await _sync(operator_tool, cp)
        assert (first["status"], first["update_type"], first["version"], first["entries"]) == ("Accepted", "Full", 1, 3)
        assert first["skipped"] == ["CARD-TOO-LONG-FOR-OCPP16"]
        assert _statuses(charger.state.local_list) == {"CARD-A": "Accepted", "CARD-B": "Blocked", "CARD-C": "Expired"}
        assert charger.state.local_list_version == 1

        # Nothing changed: nothing is sent.
        assert (await _sync(operator_tool, cp))["status"] == "InSync"
        assert charger.commands_received.count("SendLocalList") == 1

        # The table changes: a differential update with just the changes.
        await sync_to_async(IdToken.objects.filter(uid="CARD-A").update)(status="Blocked")
        await sync_to_async(IdToken.objects.filter(uid="CARD-C").delete)()
        await sync_to_async(_tokens_of)(cp, ("CARD-D", {}))
        second = await _sync(operator_tool, cp)
        assert (second["update_type"], second["version"], second["entries"]) == ("Differential", 2, 3)
        assert _statuses(charger.state.local_list) == {"CARD-A": "Blocked", "CARD-B": "Blocked", "CARD-D": "Accepted"}
        frame = await sync_to_async(lambda: cp.messages.filter(action="SendLocalList", direction="out").latest("id"))()
        assert frame.payload["localAuthorizationList"] == [
            {"idTag": "CARD-A", "idTagInfo": {"status": "Blocked"}},
            {"idTag": "CARD-D", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "CARD-C"},
        ]

        # The charger lost its list (a factory reset): asked first, it gets a Full one.
        charger.state.local_list, charger.state.local_list_version = {}, 0
        assert (await _sync(operator_tool, cp, "Differential", expected=400))["code"] == "local_list_out_of_step"
        version = await operator_tool.post(f"charge-points/{cp.identity}/local-list/version/")
        assert version.json() == {"charge_point": cp.identity, "charger_version": 0, "version": 2, "in_step": False}
        third = await _sync(operator_tool, cp)
        assert (third["update_type"], third["version"], third["entries"]) == ("Full", 3, 3)
        assert _statuses(charger.state.local_list) == {"CARD-A": "Blocked", "CARD-B": "Blocked", "CARD-D": "Accepted"}

    shown = (await operator_tool.get(f"charge-points/{cp.identity}/local-list/")).json()
    assert (shown["version"], shown["update_type"], shown["status"]) == (3, "Full", "Accepted")
    assert [entry["id_tag"] for entry in shown["entries"]] == ["CARD-A", "CARD-B", "CARD-D"]
    assert shown["pending"] == {"added": [], "changed": [], "removed": [], "skipped": ["CARD-TOO-LONG-FOR-OCPP16"]}
    record = await sync_to_async(LocalAuthList.objects.get)(charge_point=cp)
    assert record.charger_version == 3


async def test_a_201_station_gets_its_list_translated_with_versions_it_accepts(server, operator_tool, operator_setup):
    cp = await _charger(operator_setup)
    await sync_to_async(_tokens_of)(cp, ("CARD-201-A", {"token_type": "ISO15693"}), ("CARD-201-B", {}))
    async with simulated201(server, cp.identity) as station:
        first = await _sync(operator_tool, cp)
        assert (first["status"], first["update_type"], first["version"]) == ("Accepted", "Full", 1)
        assert set(station.state.local_list) == {"CARD-201-A", "CARD-201-B"}
        sent = await sync_to_async(lambda: cp.messages.filter(action="SendLocalList", direction="out").latest("id"))()
        assert sent.payload["versionNumber"] == 1
        assert {"idToken": "CARD-201-A", "type": "ISO15693"} in [
            e["idToken"] for e in sent.payload["localAuthorizationList"]
        ]

        await sync_to_async(IdToken.objects.filter(uid="CARD-201-B").update)(status="Blocked")
        second = await _sync(operator_tool, cp)
        # The station refuses a differential update that does not raise its version: this one did.
        assert (second["status"], second["update_type"], second["version"]) == ("Accepted", "Differential", 2)
        assert station.state.local_list["CARD-201-B"]["status"] == "Blocked"
        assert station.state.local_list_version == 2


async def test_sync_all_sends_to_the_connected_chargers_and_reports_the_others(server, operator_tool, operator_setup):
    online = await _charger(operator_setup)
    offline = await _charger(operator_setup)
    await sync_to_async(_tokens_of)(online, ("CARD-ALL", {}))
    async with simulated(server, online.identity) as charger:
        answer = await operator_tool.post("local-lists/sync/", {"update_type": "Full"})
        assert answer.status_code == 200, answer.text
        results = {row["charge_point"]: row for row in answer.json()["results"]}
        assert results[online.identity]["status"] == "Accepted" and results[online.identity]["version"] == 1
        assert results[offline.identity]["status"] == "Offline"
        assert set(charger.state.local_list) == {"CARD-ALL"}
