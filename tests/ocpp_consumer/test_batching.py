"""Set-based batching of connect-time services (ocpp_consumer.batching.BatchedCall)."""

from __future__ import annotations

import asyncio

import pytest

from ocpp_consumer.batching import BatchedCall


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list] = []

    def __call__(self, *, items: list) -> list:
        self.calls.append(list(items))
        if any(item == "bad" for item in items):
            raise ValueError("bad item")
        return [item.upper() for item in items]


async def test_calls_arriving_together_share_one_set_call_and_get_their_own_result():
    function = Recorder()
    batched = BatchedCall(function, "items")
    results = await asyncio.gather(*(batched(name) for name in ["a", "b", "c", "d"]))
    assert results == ["A", "B", "C", "D"]
    assert function.calls == [["a", "b", "c", "d"]]


async def test_a_bad_item_fails_only_its_own_caller():
    function = Recorder()
    batched = BatchedCall(function, "items")
    results = await asyncio.gather(*(batched(name) for name in ["a", "bad", "c"]), return_exceptions=True)
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], ValueError)
    # The set call failed, then each item was retried alone.
    assert function.calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


async def test_batches_are_capped_and_later_arrivals_go_in_the_next_call():
    function = Recorder()
    batched = BatchedCall(function, "items", max_batch=2)
    results = await asyncio.gather(*(batched(name) for name in "abcde"))
    assert results == list("ABCDE")
    assert function.calls == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_wrong_number_of_results_is_an_error_not_a_mix_up():
    batched = BatchedCall(lambda *, items: items[:-1], "items")
    with pytest.raises(RuntimeError):
        await batched("x")
