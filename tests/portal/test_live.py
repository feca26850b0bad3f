"""The portal's live socket: only staff, only their operator's chargers, cp.state forwarded."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chargepoints.fanout import group_name
from portal.consumers import PortalConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user, query: bytes = b""):
    communicator = WebsocketCommunicator(
        PortalConsumer.as_asgi(), "/ws/portal/" + ("?" + query.decode() if query else "")
    )
    communicator.scope["user"] = user
    communicator.scope["query_string"] = query
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_staff_receive_state_of_their_chargers_only(world):
    from asgiref.sync import sync_to_async

    from tests.factories import StaffFactory

    staff = await sync_to_async(StaffFactory)(operator=world["alpha"][0])
    communicator, connected, _ = await connect(staff)
    assert connected
    hello = await communicator.receive_json_from()
    assert hello == {"type": "hello", "subscribed": 2}
    layer = get_channel_layer()
    await layer.group_send(
        group_name("Beta-CP-0"), {"type": "cp.state", "identity": "Beta-CP-0", "connector_id": 1, "status": "Faulted"}
    )
    await layer.group_send(
        group_name("Alpha-CP-1"),
        {
            "type": "cp.state",
            "identity": "Alpha-CP-1",
            "connector_id": 0,
            "status": "Online",
            "power_w": None,
            "meter_wh": None,
            "soc": None,
        },
    )
    message = await communicator.receive_json_from(timeout=3)
    assert message["identity"] == "Alpha-CP-1" and message["status"] == "Online" and message["type"] == "cp.state"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_one_charger_can_be_asked_for(world):
    from asgiref.sync import sync_to_async

    from tests.factories import StaffFactory

    staff = await sync_to_async(StaffFactory)(operator=world["alpha"][0])
    communicator, connected, _ = await connect(staff, b"cp=Alpha-CP-0")
    assert (await communicator.receive_json_from())["subscribed"] == 1
    await communicator.disconnect()
    other, _, _ = await connect(staff, b"cp=Beta-CP-0")
    assert (await other.receive_json_from())["subscribed"] == 0
    await other.disconnect()


async def test_a_site_page_subscribes_to_the_chargers_of_its_own_site_only(world):
    from asgiref.sync import sync_to_async

    from tests.factories import StaffFactory

    staff = await sync_to_async(StaffFactory)(operator=world["alpha"][0])
    alpha_site, beta_site = world["alpha"][1], world["beta"][1]
    communicator, _, _ = await connect(staff, f"site={alpha_site.pk}".encode())
    assert (await communicator.receive_json_from())["subscribed"] == 2
    await communicator.disconnect()
    for query in (f"site={beta_site.pk}".encode(), b"site=nope"):
        other, _, _ = await connect(staff, query)
        assert (await other.receive_json_from())["subscribed"] == 0
        await other.disconnect()


async def test_anonymous_and_drivers_are_refused(world):
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import DriverFactory

    _, connected, code = await connect(AnonymousUser())
    assert not connected and code == 4403
    driver = await sync_to_async(DriverFactory)()
    _, connected, code = await connect(driver)
    assert not connected and code == 4403
