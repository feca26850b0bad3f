"""Handshakes before frames (issue 20): under a full restart of a fleet, handshakes stalled
behind connected chargers' frames on the one event loop and failed daphne's connect
timeout by the thousand. While more than OCPP_HANDSHAKES_FIRST_ABOVE handshakes are
pending, frames wait; they go on as soon as the handshakes are done."""

from __future__ import annotations

import asyncio

from ocpp_consumer.consumer import _HandshakesFirst


async def test_frames_wait_while_many_handshakes_are_pending(settings):
    settings.OCPP_HANDSHAKES_FIRST_ABOVE = 2
    gate = _HandshakesFirst()
    for _ in range(3):
        gate.started()
    frame = asyncio.create_task(gate.wait())
    await asyncio.sleep(0.05)
    assert not frame.done()
    gate.finished()  # two pending: no longer more than the limit
    await asyncio.wait_for(frame, 1)


async def test_frames_do_not_wait_for_a_few_handshakes_or_when_off(settings):
    settings.OCPP_HANDSHAKES_FIRST_ABOVE = 2
    gate = _HandshakesFirst()
    gate.started()
    gate.started()
    await asyncio.wait_for(gate.wait(), 0.1)
    settings.OCPP_HANDSHAKES_FIRST_ABOVE = 0
    for _ in range(10):
        gate.started()
    await asyncio.wait_for(gate.wait(), 0.1)


async def test_a_failed_handshake_still_counts_as_finished(settings):
    """connect() counts a handshake out whatever happens (refused, cancelled by daphne's
    timeout), or frames would wait for good."""
    from ocpp_consumer import consumer

    settings.OCPP_HANDSHAKES_FIRST_ABOVE = 1
    before = consumer.handshakes.pending

    class Refused(consumer.OcppConsumer):
        async def _connect(self):
            raise RuntimeError("refused")

    for _ in range(3):
        try:
            await Refused().connect()
        except RuntimeError:
            pass
    assert consumer.handshakes.pending == before
    await asyncio.wait_for(consumer.handshakes.wait(), 0.1)


async def test_a_frame_waits_at_most_max_wait_for_handshakes_that_never_end(settings, monkeypatch):
    """A flood of handshakes that never finish (wrong passwords, abandoned) must not stall
    connected chargers for good."""
    settings.OCPP_HANDSHAKES_FIRST_ABOVE = 1
    monkeypatch.setattr(_HandshakesFirst, "MAX_WAIT_S", 0.2)
    gate = _HandshakesFirst()
    for _ in range(5):
        gate.started()
    await asyncio.wait_for(gate.wait(), 2)
