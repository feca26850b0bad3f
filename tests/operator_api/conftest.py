"""Operator API fixtures: operators with API keys, staff, and a fake command bus.

The fake bus replaces `ocpp_consumer.commands.send` (the module boundary) and only in unit
tests; the end-to-end tests in test_e2e_*.py talk to real simulated chargers.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from chargepoints.models import ChargePoint
from ocpp_consumer import answers, commands
from tests.factories import ChargePointFactory, ConnectorFactory, OperatorFactory, SiteFactory, StaffFactory
from tests.operator_api.tools import OcppCoreTool, OperatorTool
from tests.support.clients import make_api_key


@pytest.fixture
def operator(db):
    return OperatorFactory()


@pytest.fixture
def other_operator(db):
    return OperatorFactory()


@pytest.fixture
def api_key(operator) -> str:
    return make_api_key(operator)


@pytest.fixture
def client(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key)
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(StaffFactory(operator=operator))
    return client


@pytest.fixture
def site(operator):
    return SiteFactory(operator=operator)


@pytest.fixture
def charger(site):
    charge_point = ChargePointFactory(
        site=site, identity="station42", name="myWallbox", protocol="ocpp1.6", is_online=True
    )
    ConnectorFactory(charge_point=charge_point, connector_id=1)
    ConnectorFactory(charge_point=charge_point, connector_id=2)
    return charge_point


@pytest.fixture
def foreign_charger(other_operator):
    charge_point = ChargePointFactory(site=SiteFactory(operator=other_operator), identity="elsewhere", is_online=True)
    ConnectorFactory(charge_point=charge_point, connector_id=1)
    return charge_point


@dataclass
class FakeBus:
    module: types.ModuleType
    answers: dict = field(default_factory=dict)
    raises: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)

    def send(self, charge_point_id, action, payload, *, timeout=None, source=""):
        # Like the real bus, record what the answer tells (ocpp_consumer.answers) before
        # answering: charging profile rows are written there and nowhere else.
        self.calls.append((charge_point_id, action, payload))
        protocol = ChargePoint.objects.filter(identity=charge_point_id).values_list("protocol", flat=True).first()
        if action in self.raises:
            if isinstance(self.raises[action], self.module.CommandTimeout):
                answers.record_sync(charge_point_id, action, payload, None, source=source, protocol=protocol)
            raise self.raises[action]
        answer = self.answers.get(action, {"status": "Accepted"})
        answers.record_sync(charge_point_id, action, payload, answer, source=source, protocol=protocol)
        return answer

    def error(self, name: str, message: str = ""):
        return getattr(self.module, name)(message)


@pytest.fixture
def bus(monkeypatch) -> FakeBus:
    fake = FakeBus(module=commands)
    monkeypatch.setattr(commands, "send", fake.send)
    return fake


# --- end-to-end: an operator with a key and chargers on a live server -----------------------


@pytest.fixture
def operator_setup(make_charge_point):
    operator = OperatorFactory()
    site = SiteFactory(operator=operator)
    key = make_api_key(operator)

    def charger(**fields):
        return make_charge_point(site=site, **fields)

    return key, charger


@pytest.fixture
async def tool(server, operator_setup):
    return OcppCoreTool(server, operator_setup[0])


@pytest.fixture
async def operator_tool(server, operator_setup):
    return OperatorTool(server, operator_setup[0])
