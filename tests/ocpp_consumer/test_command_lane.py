"""A command's journal rows go in a lane of their own (issue 20): under a fleet's load the
frames' group commit carries hundreds of frames per transaction, and a command used to
wait for two of those batches (its CALL before sending, the charger's answer before it
was handed back): 0.9 s p99 under load. The command is still journalled before it is
sent and before its answer is handed back."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async

from chargepoints.models import OcppMessage
from chargepoints.services import charge_point_add
from ocpp_consumer import batching, protocol
from ocpp_consumer.v16.central_system import CentralSystem16

# The lane is PostgreSQL only: SQLite lets one writer in at a time, so it shares the thread.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class _Socket:
    def __init__(self) -> None:
        self.sent: list[list] = []
        self.new_frame = asyncio.Event()

    async def send(self, text_data: str) -> None:
        self.sent.append(json.loads(text_data))
        self.new_frame.set()

    def restore_registration_soon(self) -> None:
        pass


async def test_a_command_does_not_wait_for_the_frames_group_commit(on_postgres):
    cp = await sync_to_async(charge_point_add)(identity="LANE-1", password="lane-password-0123")
    socket = _Socket()
    charger = CentralSystem16(cp.identity, socket, cp.pk, "Accepted")
    # The frames' group commit is stuck in a long batch (as under a fleet's load).
    release = threading.Event()

    def slow_flush(batch):
        release.wait(timeout=30)
        protocol._frames_flush(batch)

    loop = asyncio.get_running_loop()
    batching._committers[(id(loop), "frames")] = batching.GroupCommitter(slow_flush)
    try:
        heartbeat = loop.create_task(charger.route_frame(json.dumps([2, "hb-1", "Heartbeat", {}])))
        await asyncio.sleep(0.2)
        assert not heartbeat.done()  # the Heartbeat's answer waits for its journal rows

        command = loop.create_task(charger.call_action("GetConfiguration", {"key": ["X"]}, timeout=10))
        async with asyncio.timeout(5):
            while not any(frame[0] == 2 for frame in socket.sent):
                socket.new_frame.clear()
                await socket.new_frame.wait()
        call = next(frame for frame in socket.sent if frame[0] == 2)
        stored = await sync_to_async(
            OcppMessage.objects.filter(unique_id=call[1], direction="out").count, thread_sensitive=False
        )()
        assert stored == 1  # journalled before it was sent
        await charger.route_frame(json.dumps([3, call[1], {"configurationKey": [], "unknownKey": ["X"]}]))
        async with asyncio.timeout(5):
            answer = await command
        assert answer.payload == {"configurationKey": [], "unknownKey": ["X"]}
        stored = await sync_to_async(
            OcppMessage.objects.filter(unique_id=call[1], direction="in").count, thread_sensitive=False
        )()
        assert stored == 1  # the answer was journalled before it was handed back
        assert not heartbeat.done()
    finally:
        release.set()
    try:
        await asyncio.wait_for(heartbeat, 10)
    finally:
        batching._committers.pop((id(loop), "frames"), None)
    assert any(frame[:2] == [3, "hb-1"] for frame in socket.sent)
