"""Fixtures: a live daphne server (the OCPP e2e fixtures), the real bluecurrent-api client
pointed at its /haserver, and a driver with a charger, a card and an API token."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from bluecurrent_api import Client
from bluecurrent_api import websocket as bc_websocket

from bluecurrent import tokens
from tests.bluecurrent.frames import Live
from tests.factories import DriverFactory, IdTokenFactory, SiteFactory


@pytest.fixture
def haserver(servers, transactional_db, monkeypatch) -> str:
    base = servers.get("a")
    url = base.replace("/ocpp/", "/haserver")
    monkeypatch.setattr(bc_websocket, "URL", url)
    return url


@dataclass
class Home:
    driver: object
    card: object
    charge_point: object
    api_token: str


@pytest.fixture
def home(make_charge_point) -> Home:
    site = SiteFactory()
    charge_point = make_charge_point(site=site, name="Driveway", model="Sim-AC22", vendor="CSMS-Sim", connectors=1)
    driver = DriverFactory(email="driver@example.com")
    card = IdTokenFactory(user=driver, operator=site.operator, name="My card")
    raw = tokens.api_token_create(user=driver, name="Home Assistant")
    return Home(driver=driver, card=card, charge_point=charge_point, api_token=raw)


@pytest.fixture
async def live_client(haserver, home):
    client = Client()
    await client.validate_api_token(home.api_token)
    live = Live(client)
    await live.start()
    yield live
    await live.stop()
