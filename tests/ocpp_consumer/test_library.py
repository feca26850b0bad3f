"""The private internals of the pinned `ocpp` package that ocpp_consumer/library.py uses.
If a new release renames or reshapes any of them, these fail before any charger does."""

from __future__ import annotations

import asyncio

import pytest
from ocpp.messages import CallResult
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from ocpp_consumer import library


class _Station(ChargePoint):
    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time="2026-01-01T00:00:00Z")


class _Connection:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)


def test_handler_table_finds_an_on_handler_and_nothing_else():
    station = _Station("CP-1", _Connection())
    handler = library.handler_for(station, "Heartbeat")
    assert handler is not None and handler.__name__ == "on_heartbeat"
    assert library.handler_for(station, "BootNotification") is None


def test_the_call_lock_is_an_asyncio_lock():
    assert isinstance(library.call_lock(_Station("CP-1", _Connection())), asyncio.Lock)


def test_the_connection_is_the_one_given():
    connection = _Connection()
    assert library.connection_of(_Station("CP-1", connection)) is connection


@pytest.mark.asyncio
async def test_a_delivered_reply_reaches_the_call_waiting_for_it_and_stale_ones_are_dropped():
    station = _Station("CP-1", _Connection())
    library.deliver_reply(station, CallResult("stale", {}))
    library.drop_stale_replies(station)
    library.deliver_reply(station, CallResult("other", {"x": 1}))
    library.drop_stale_replies(station)
    library.deliver_reply(station, CallResult("wanted", {"status": "Accepted"}))
    reply = await library.wait_for_reply(station, "wanted", 1)
    assert (reply.unique_id, reply.payload) == ("wanted", {"status": "Accepted"})


@pytest.mark.asyncio
async def test_waiting_for_a_reply_that_never_comes_times_out():
    with pytest.raises(asyncio.TimeoutError):
        await library.wait_for_reply(_Station("CP-1", _Connection()), "missing", 0.05)
