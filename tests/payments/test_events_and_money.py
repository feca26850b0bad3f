from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from payments import events
from payments.money import from_minor_units, to_minor_units


def test_minor_units_are_exact_integers():
    assert to_minor_units(Decimal("39.20"), "EUR") == 3920
    assert to_minor_units(Decimal("1000"), "JPY") == 1000
    assert from_minor_units(1234, "eur") == Decimal("12.34")
    with pytest.raises(ValueError):
        to_minor_units(Decimal("0.001"), "EUR")
    with pytest.raises(TypeError):
        to_minor_units(1.5, "EUR")


def test_emit_reaches_the_driver_group_and_registered_hooks():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("driver.4242", channel)
    seen = []
    hook = events.register(lambda user_id, kind, data: seen.append((user_id, kind, data)))
    try:
        events.emit(4242, events.PAYMENT, {"status": "success", "amount": Decimal("3.50")})
        message = async_to_sync(layer.receive)(channel)
    finally:
        events.unregister(hook)
        async_to_sync(layer.group_discard)("driver.4242", channel)
    assert message == {"type": "driver.event", "kind": "PAYMENT", "data": {"status": "success", "amount": "3.50"}}
    assert seen == [(4242, "PAYMENT", {"status": "success", "amount": Decimal("3.50")})]


def test_a_failing_hook_does_not_break_emit():
    def broken(user_id, kind, data):
        raise RuntimeError("boom")

    events.register(broken)
    try:
        events.emit(1, events.REPLENISHMENT, {"status": "success", "amount": Decimal("1.00")})
    finally:
        events.unregister(broken)
