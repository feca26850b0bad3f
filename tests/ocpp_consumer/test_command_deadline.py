"""A command's timeout covers the whole call (issue 17, finding 7): the holder of the
charger's socket sends it only with the time its caller still waits, and never once the
caller has given up (a command queued behind others, or held up in the channel layer)."""

from __future__ import annotations

import time

from ocpp_consumer.consumer import OcppConsumer


class _Answer:
    message_type_id = 3
    payload = {"status": "Accepted"}


class _ChargePoint:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    async def call_action(self, action: str, payload: dict, timeout: float):
        self.calls.append((action, timeout))
        return _Answer()


def _consumer() -> tuple[OcppConsumer, _ChargePoint, list]:
    consumer = OcppConsumer()
    consumer.identity = "CP-DEADLINE"
    charge_point = consumer.charge_point = _ChargePoint()
    replies: list = []

    async def reply(reply_to, message):
        replies.append(message)

    consumer._reply = reply
    return consumer, charge_point, replies


async def test_a_command_whose_caller_gave_up_is_not_sent():
    consumer, charge_point, replies = _consumer()
    event = {
        "action": "Reset",
        "payload": {"type": "Soft"},
        "reply_to": "r",
        "timeout": 60,
        "deadline": time.time() - 1,
    }
    await consumer._run_command(event)
    assert charge_point.calls == [] and replies == [{"result": "timeout"}]


async def test_a_command_gets_only_the_time_its_caller_still_waits():
    consumer, charge_point, replies = _consumer()
    event = {
        "action": "Reset",
        "payload": {"type": "Soft"},
        "reply_to": "r",
        "timeout": 60,
        "deadline": time.time() + 5,
    }
    await consumer._run_command(event)
    [(action, timeout)] = charge_point.calls
    assert action == "Reset" and 4 < timeout <= 5
    assert replies == [{"result": "ok", "payload": {"status": "Accepted"}}]
