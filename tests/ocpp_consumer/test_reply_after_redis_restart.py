"""A command's answer goes back to the caller's process over Redis. In the outage drill
(bench/outages.py), the first answer sent after Redis restarted failed ("Connection closed
by server", from a pooled connection of the answering process) and the caller waited out
its whole command timeout for a command the charger had carried out. The answer is now
sent again a moment later."""

from __future__ import annotations

import asyncio

import redis.exceptions
from channels_redis.core import RedisChannelLayer

from ocpp_consumer.consumer import OcppConsumer


class FirstSendsFail(RedisChannelLayer):
    """A real Redis channel layer whose next `failures` sends fail as the drill's did."""

    failures = 0

    async def send(self, channel, message):
        if self.failures:
            self.failures -= 1
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        return await super().send(channel, message)


def _consumer(layer) -> OcppConsumer:
    consumer = OcppConsumer()
    consumer.channel_layer, consumer.identity = layer, "CP-REPLY"
    return consumer


async def test_an_answer_is_delivered_after_a_redis_restart(throwaway_redis):
    layer = RedisChannelLayer(hosts=[throwaway_redis.url])
    consumer = _consumer(layer)
    before = await layer.new_channel()
    await consumer._reply(before, {"result": "ok", "payload": {}})  # (a pooled connection now exists)
    assert await asyncio.wait_for(layer.receive(before), 5) == {"result": "ok", "payload": {}}
    throwaway_redis.stop()
    throwaway_redis.start()  # empty, and every pooled connection closed by the server
    after = await layer.new_channel()
    await consumer._reply(after, {"result": "ok", "payload": {"n": 2}})
    assert await asyncio.wait_for(layer.receive(after), 5) == {"result": "ok", "payload": {"n": 2}}


async def test_a_failed_send_of_an_answer_is_tried_again(throwaway_redis):
    layer = FirstSendsFail(hosts=[throwaway_redis.url])
    reply_to = await layer.new_channel()
    layer.failures = 2
    await _consumer(layer)._reply(reply_to, {"result": "ok", "payload": {"key": "v"}})
    assert await asyncio.wait_for(layer.receive(reply_to), 5) == {"result": "ok", "payload": {"key": "v"}}
    assert layer.failures == 0


async def test_an_answer_that_cannot_be_sent_is_given_up_after_a_few_tries(throwaway_redis, caplog):
    layer = FirstSendsFail(hosts=[throwaway_redis.url])
    reply_to = await layer.new_channel()
    layer.failures = 10
    await _consumer(layer)._reply(reply_to, {"result": "ok", "payload": {}})  # (returns: never raises)
    assert layer.failures == 7  # three tries
    assert "could not deliver a command answer" in caplog.text


class _AnsweringCharger:
    """The consumer's charge point, answering every command at once (CALLRESULT)."""

    async def call_action(self, action, payload, timeout):
        return type("Answer", (), {"message_type_id": 3, "payload": {"status": "Accepted"}})()


async def test_a_disconnect_while_an_answer_waits_to_be_sent_again_does_not_turn_it_into_offline(throwaway_redis):
    layer = FirstSendsFail(hosts=[throwaway_redis.url])
    consumer = _consumer(layer)
    consumer.charge_point = _AnsweringCharger()
    reply_to = await layer.new_channel()
    layer.failures = 1
    await consumer.ocpp_command({"reply_to": reply_to, "action": "Reset", "payload": {}, "timeout": 5})
    while layer.failures:  # (the first send of the answer failed; it waits to try again)
        await asyncio.sleep(0.01)
    await consumer.disconnect(1000)  # the charger goes away meanwhile
    assert await asyncio.wait_for(layer.receive(reply_to), 5) == {"result": "ok", "payload": {"status": "Accepted"}}
