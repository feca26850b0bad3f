"""Fixtures: a live daphne server (the OCPP e2e fixtures), the real bluecurrent-api client
pointed at its /haserver, and a driver with a charger, a card and an API token."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from bluecurrent_api import Client
from bluecurrent_api import websocket as bc_websocket

from bluecurrent import tokens
from tests.factories import DriverFactory, IdTokenFactory, SiteFactory
from tests.ocpp.conftest import eventually, make_charge_point, server, servers, simulated  # noqa: F401


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
    charge_point = make_charge_point(site=site, name="Driveway", model="Sim-AC22", vendor="CSMS-Sim",
                                     connectors=1)
    driver = DriverFactory(email="driver@example.com")
    card = IdTokenFactory(user=driver, operator=site.operator, name="My card")
    raw = tokens.api_token_create(user=driver, name="Home Assistant")
    return Home(driver=driver, card=card, charge_point=charge_point, api_token=raw)


class Live:
    """The real client on a long connection, its received messages in a queue."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.messages: asyncio.Queue = asyncio.Queue()
        self.seen: list[dict] = []
        self.opened = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def receiver(self, message: dict) -> None:
        self.seen.append(message)
        await self.messages.put(message)

    async def on_open(self) -> None:
        self.opened.set()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.client.connect(self.receiver, self.on_open))
        done, _ = await asyncio.wait([self.task, asyncio.create_task(self.opened.wait())], timeout=10,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            self.task.result()  # raises what the client raised

    async def next(self, predicate=lambda m: True, timeout: float = 10.0) -> dict:
        async def wait() -> dict:
            while True:
                message = await self.messages.get()
                if predicate(message):
                    return message

        getter = asyncio.create_task(wait())
        done, _ = await asyncio.wait([getter, self.task], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()
            raise AssertionError("the client's loop ended")
        raise AssertionError(f"no matching message in {timeout}s; seen {[m.get('object') for m in self.seen]}")

    async def stop(self) -> None:
        if self.task and not self.task.done():
            try:
                await self.client.disconnect()
            except Exception:
                pass
            try:
                await asyncio.wait_for(self.task, 5)
            except Exception:
                pass


@pytest.fixture
async def live_client(haserver, home):
    client = Client()
    await client.validate_api_token(home.api_token)
    live = Live(client)
    await live.start()
    yield live
    await live.stop()


def by_object(name: str):
    return lambda message: message.get("object") == name
