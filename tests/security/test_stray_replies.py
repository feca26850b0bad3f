"""Replies that match no pending call are journaled and dropped (issue 16, finding 3): 3,000
stray CALLRESULTs used to sit in the `ocpp` library's response queue for good, and made the
next command fail with "maximum recursion depth exceeded", shown to the API caller.
Internal exception text never reaches a command's caller."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import OcppMessage
from chargepoints.services import charge_point_add
from ocpp_consumer import commands
from ocpp_consumer.consumer import OcppConsumer
from ocpp_consumer.v16.central_system import CentralSystem16
from tests.support.chargers import simulated


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, text_data: str) -> None:
        self.sent.append(text_data)

    def restore_registration_soon(self) -> None:
        pass


@pytest.mark.django_db(transaction=True)
async def test_a_stray_reply_is_journaled_and_not_queued():
    cp = await sync_to_async(charge_point_add)(identity="STRAY-1", password="stray-password-0123")
    charger = CentralSystem16(cp.identity, _Socket(), cp.pk, "Accepted")
    for n in range(50):
        await charger.route_frame(json.dumps([3, f"never-sent-{n}", {"x": "y" * 100}]))
        await charger.route_frame(json.dumps([4, f"never-sent-err-{n}", "GenericError", "", {}]))
    assert charger._response_queue.qsize() == 0
    stored = await sync_to_async(OcppMessage.objects.filter(charge_point_id=cp.pk, direction="in").count)()
    assert stored == 100


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_thousands_of_stray_replies_do_not_break_the_next_command(server, make_charge_point):
    cp = await sync_to_async(make_charge_point)()
    async with simulated(server, cp.identity) as charger:
        for n in range(3000):
            await charger._connection.send(json.dumps([3, f"stray-{n}", {}]))
        await charger.heartbeat()  # frames are handled in order: every stray has been seen
        answer = await commands.send_async(cp.identity, "GetConfiguration", {"key": ["NumberOfConnectors"]}, timeout=20)
        assert answer["configurationKey"][0]["value"] == "2"
    strays = await sync_to_async(
        OcppMessage.objects.filter(charge_point_id=cp.pk, unique_id__startswith="stray-").count
    )()
    assert strays == 3000


class _Failing:
    async def call_action(self, action, payload, timeout):
        raise RuntimeError("connection string postgres://admin:hunter2@db.internal/csms")


class _Layer:
    def __init__(self) -> None:
        self.replies: list[dict] = []

    async def send(self, channel: str, message: dict) -> None:
        self.replies.append(message)


async def test_an_internal_error_reaches_the_caller_as_a_reference_only(caplog):
    consumer = OcppConsumer()
    consumer.identity, consumer.charge_point, consumer.channel_layer = "ERR-1", _Failing(), _Layer()
    with caplog.at_level("ERROR"):
        await consumer._run_command({"action": "Reset", "payload": {}, "timeout": 5, "reply_to": "caller!1"})
    [reply] = consumer.channel_layer.replies
    assert reply["result"] == "error"
    assert "hunter2" not in reply["description"] and "RuntimeError" not in reply["description"]
    reference = reply["description"].split("reference ")[1].rstrip(")")
    assert reference in caplog.text and "hunter2" in caplog.text  # the operator finds it in the log


@pytest.mark.django_db
def test_a_failing_health_check_does_not_publish_the_exception_text(client, monkeypatch):
    from config import health

    def broken():
        raise ConnectionError("redis://:s3cret@cache.internal:6379 refused")

    monkeypatch.setattr(health, "_check_redis", broken)
    response = client.get("/health")
    assert response.json()["status"] == "degraded"  # (Redis down: degraded, issue 17)
    assert "s3cret" not in response.content.decode() and "reference" in response.json()["checks"]["redis"]["error"]
