"""Splitting 2.0.1 list requests by ItemsPerMessage (ocpp_consumer/v201/items_per_message.py)."""

from __future__ import annotations

import pytest

from ocpp_consumer.v201 import items_per_message as ipm
from tests.factories import ChargePointFactory


def _items(n: int) -> list[dict]:
    return [{"component": {"name": "C"}, "variable": {"name": f"V{i}"}} for i in range(n)]


def test_split_keeps_order_and_other_fields_and_join_undoes_it():
    payload = {"getVariableData": _items(7), "customData": {"vendorId": "x"}}
    parts = ipm.split("GetVariables", payload, 3)
    assert [len(p["getVariableData"]) for p in parts] == [3, 3, 1]
    assert all(p["customData"] == {"vendorId": "x"} for p in parts)
    answers = [{"getVariableResult": [{"variable": item["variable"]} for item in p["getVariableData"]]} for p in parts]
    assert [r["variable"]["name"] for r in ipm.join("GetVariables", answers)["getVariableResult"]] == [
        f"V{i}" for i in range(7)
    ]


def test_only_list_actions_with_several_items_split():
    assert ipm.splits("SetVariables", {"setVariableData": _items(2)})
    assert not ipm.splits("SetVariables", {"setVariableData": _items(1)})
    assert not ipm.splits("GetVariables", {"getVariableData": []})
    assert not ipm.splits("Reset", {"type": "Immediate"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer, limit",
    [
        ({"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "25"}]}, 25),
        ({"getVariableResult": [{"attributeStatus": "UnknownVariable"}]}, None),
        ({"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "lots"}]}, None),
        ({"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "0"}]}, None),
        ({}, None),  # the station answered the question with a CALLERROR
    ],
)
def test_the_limit_is_asked_once_and_remembered_even_when_there_is_none(answer, limit):
    cp = ChargePointFactory(protocol="ocpp2.0.1")
    assert ipm.known_limit(identity=cp.identity, action="GetVariables") == (None, False)
    assert ipm.remember_limit(identity=cp.identity, action="GetVariables", answer=answer) == limit
    assert ipm.known_limit(identity=cp.identity, action="GetVariables") == (limit, True)
    assert ipm.known_limit(identity=cp.identity, action="SetVariables") == (None, False)  # its own limit
