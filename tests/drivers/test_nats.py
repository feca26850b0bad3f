"""Driver events on NATS, against the real nats-server of the project's machines."""

import asyncio
import json
import socket
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from drivers import nats as driver_nats
from drivers.nats import nats_block, nats_password, publish_driver_event, register_publisher
from payments import events
from tests.support.chargers import eventually

NATS_URL = "nats://127.0.0.1:4222"


def _nats_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1) as sock:
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False


needs_nats = pytest.mark.skipif(not _nats_answers(), reason="no nats-server answers on 127.0.0.1:4222")


def test_without_nats_url_the_block_is_null(settings):
    settings.NATS_URL = ""
    assert nats_block(7) is None
    assert register_publisher() is False


def test_the_block_has_per_driver_credentials_without_our_own(settings):
    settings.NATS_URL = "nats://csms:secret@nats.example:4222"
    settings.NATS_DRIVER_SECRET = "s3"
    block = nats_block(7)
    assert block == {
        "servers": "nats://nats.example:4222",
        "topic": "drivers.7",
        "user": "driver-7",
        "pass": nats_password(7),
    }
    assert len(block["pass"]) == 32 and block["pass"] != nats_password(8)
    settings.NATS_DRIVER_SECRET = "rotated"
    assert nats_password(7) != block["pass"]
    settings.NATS_PUBLIC_SERVERS = "wss://events.example:443"
    assert nats_block(7)["servers"] == "wss://events.example:443"


@pytest.mark.django_db
def test_otp_check_and_me_answer_the_nats_block(settings, api, driver):
    settings.NATS_URL = NATS_URL
    body = api.post("/api/v1/user/me").json()
    assert body["nats"] == {
        "servers": NATS_URL,
        "topic": f"drivers.{driver.pk}",
        "user": f"driver-{driver.pk}",
        "pass": nats_password(driver.pk),
    }


async def _subscribe(subject: str):
    import nats

    client = await nats.connect(NATS_URL, connect_timeout=2)
    subscription = await client.subscribe(subject)
    await client.flush()
    return client, subscription


@needs_nats
@pytest.mark.asyncio
async def test_events_are_published_to_the_drivers_subject(settings):
    settings.NATS_URL = NATS_URL
    client, subscription = await _subscribe("drivers.41.>")
    try:
        await sync_to_async(publish_driver_event, thread_sensitive=False)(
            41,
            "CHARGING",
            {"energy": Decimal("1.250"), "waitingTime": 3, "amount": Decimal("0.75")},
        )
        message = await subscription.next_msg(timeout=5)
        assert message.subject == "drivers.41.CHARGING"
        assert json.loads(message.data) == {"energy": 1.25, "waitingTime": 3, "amount": 0.75}
    finally:
        await client.close()


@needs_nats
@pytest.mark.asyncio
async def test_payment_events_reach_nats_through_the_registered_hook(settings):
    settings.NATS_URL = NATS_URL
    client, subscription = await _subscribe("drivers.42.>")
    try:
        assert register_publisher() is True
        await sync_to_async(events.emit, thread_sensitive=False)(
            42, "PAYMENT", {"status": "success", "amount": Decimal("3.50")}
        )
        message = await subscription.next_msg(timeout=5)
        assert message.subject == "drivers.42.PAYMENT"
        assert json.loads(message.data) == {"status": "success", "amount": 3.5}
        await subscription.unsubscribe()
    finally:
        events.unregister(publish_driver_event)
        await client.close()


@needs_nats
def test_a_driver_can_subscribe_with_the_credentials_when_the_server_knows_them(settings):
    """The nats_driver_users command prints the server's authorization block; a server
    without authorization (the CI one) accepts the credentials as well."""
    import nats

    settings.NATS_URL = NATS_URL
    block = nats_block(43)

    async def scenario():
        client = await nats.connect(block["servers"], user=block["user"], password=block["pass"], connect_timeout=2)
        await client.subscribe(f"{block['topic']}.>")
        await client.close()

    asyncio.run(scenario())


async def test_a_dead_nats_server_never_fails_the_publish_it_queues_the_event(settings):
    """Nothing listens on port 1: the publish returns (no exception, no wait), the event
    waits in the outbox, and the publisher reports NATS as down."""
    settings.NATS_URL = "nats://127.0.0.1:1"
    publisher = driver_nats.NatsPublisher()
    try:
        assert publisher.publish("drivers.1.X", b"{}") is None
        assert publisher.queued() == [("drivers.1.X", b"{}")]
        await eventually(lambda: publisher.status()["status"] == "down")
        assert publisher.status() == {"status": "down", "queued": 1, "dropped": 0, "sent": 0}
    finally:
        publisher.stop()


def test_event_numbers_always_have_a_fractional_part():
    from drivers.events import event_json

    text = event_json({"energy": Decimal("0"), "waitingTime": 3, "amount": "10", "newBalance": Decimal("12.50")})
    assert text == b'{"energy": 0.0, "waitingTime": 3.0, "amount": 10.0, "newBalance": 12.5}'


def test_an_outbox_limit_below_one_is_refused_at_start_with_a_clear_message(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.NATS_URL = NATS_URL
    settings.NATS_OUTBOX_LIMIT = 0
    with pytest.raises(ImproperlyConfigured, match="NATS_OUTBOX_LIMIT must be at least 1"):
        register_publisher()
