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


def _operator_add(*, name: str, seen: list) -> str:
    from django.db import connection, transaction

    from accounts.models import Operator

    Operator.objects.create(name=name, slug=name)
    seen.append(id(connection.atomic_blocks[0]))  # the outermost transaction this call ran in
    transaction.on_commit(lambda: seen.append(f"committed {name}"))
    if name.startswith("bad"):
        raise ValueError(name)
    return name.upper()


@pytest.mark.django_db(transaction=True)
async def test_service_calls_arriving_together_share_one_transaction_and_a_failure_stays_its_own():
    """issue 20: one commit (one WAL flush) for the service calls of many chargers, not one each."""
    from asgiref.sync import sync_to_async

    from accounts.models import Operator
    from ocpp_consumer.batching import ServiceBatch

    seen: list = []
    batch = ServiceBatch()
    results = await asyncio.gather(
        *(batch(_operator_add, {"name": name, "seen": seen}) for name in ["a", "bad", "c"]), return_exceptions=True
    )
    assert results[0] == "A" and results[2] == "C" and isinstance(results[1], ValueError)
    transactions = [entry for entry in seen if isinstance(entry, int)]
    assert len(transactions) == 3 and len(set(transactions)) == 1
    # The failed call's write and its after-commit work were rolled back with its savepoint.
    assert [entry for entry in seen if isinstance(entry, str)] == ["committed a", "committed c"]
    names = await sync_to_async(lambda: sorted(Operator.objects.values_list("name", flat=True)))()
    assert names == ["a", "c"]
