"""The driver event WebSocket, over the real Redis channel layer."""

from decimal import Decimal

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.models import AccessToken
from accounts.secrets import token_hash
from accounts.services import access_token_issue, access_token_revoke
from config.routing import websocket_urlpatterns
from drivers.charging import charging_events_emit
from drivers.consumers import CLOSE_UNAUTHORIZED
from payments.events import emit
from tests.factories import ChargeSessionFactory, DriverFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

application = URLRouter(websocket_urlpatterns)


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections():
    # Database work of async code runs in one worker thread with its own connection; close
    # it, or PostgreSQL cannot drop the test database at the end of the run.
    yield
    await database_sync_to_async(connections.close_all)()


async def _token(user) -> str:
    return await sync_to_async(access_token_issue)(user=user, kind=AccessToken.Kind.DRIVER)


async def _connect(path: str, headers=None) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_a_driver_receives_own_events_as_topic_and_data():
    driver = await sync_to_async(DriverFactory)()
    ws, connected = await _connect(f"/ws/events/?token={await _token(driver)}")
    assert connected
    await sync_to_async(emit)(driver.pk, "PAYMENT", {"status": "success", "amount": Decimal("3.50")})
    assert await ws.receive_json_from(timeout=5) == {
        "topic": f"drivers.{driver.pk}.PAYMENT",
        "data": {"status": "success", "amount": 3.5},
    }
    await sync_to_async(emit)(driver.pk, "REPLENISHMENT", {"status": "success", "amount": Decimal("10069")})
    assert await ws.receive_json_from(timeout=5) == {
        "topic": f"drivers.{driver.pk}.REPLENISHMENT",
        "data": {"status": "success", "amount": 10069},
    }
    await ws.disconnect()


async def test_the_authorization_header_works_too():
    driver = await sync_to_async(DriverFactory)()
    token = await _token(driver)
    ws, connected = await _connect("/ws/events/", headers=[(b"authorization", f"Bearer {token}".encode())])
    assert connected
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}
    await ws.disconnect()


async def test_a_driver_never_receives_another_drivers_events():
    me, other = await sync_to_async(DriverFactory)(), await sync_to_async(DriverFactory)()
    ws, _ = await _connect(f"/ws/events/?token={await _token(me)}")
    await sync_to_async(emit)(other.pk, "PAYMENT", {"status": "success", "amount": "1.00"})
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


@pytest.mark.parametrize("query", ["", "?token=", "?token=drv_nope"])
async def test_no_or_a_bad_token_is_closed_with_4401(query):
    ws, connected = await _connect(f"/ws/events/{query}")
    assert connected  # accepted only to say why it closes
    assert (await ws.receive_output(timeout=5))["code"] == CLOSE_UNAUTHORIZED
    await ws.disconnect()


async def test_a_revoked_token_is_refused():
    driver = await sync_to_async(DriverFactory)()
    raw = await _token(driver)
    token = await sync_to_async(AccessToken.objects.get)(key_hash=token_hash(raw))
    await sync_to_async(access_token_revoke)(token=token)
    ws, _ = await _connect(f"/ws/events/?token={raw}")
    assert (await ws.receive_output(timeout=5))["code"] == CLOSE_UNAUTHORIZED
    await ws.disconnect()


async def test_charging_events_reach_the_driver_of_an_active_session():
    session = await sync_to_async(ChargeSessionFactory)(meter_start_wh=1000, meter_last_wh=3500)
    ws, _ = await _connect(f"/ws/events/?token={await _token(session.user)}")
    sent = await sync_to_async(charging_events_emit)()
    assert sent == 1
    message = await ws.receive_json_from(timeout=5)
    assert message["topic"] == f"drivers.{session.user_id}.CHARGING"
    assert message["data"]["energy"] == 2.5
    assert message["data"]["waitingTime"] == 0
    assert isinstance(message["data"]["amount"], (int, float))
    await ws.disconnect()
