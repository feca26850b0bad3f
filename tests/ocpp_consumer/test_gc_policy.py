"""The collector policy for many long-lived connections (ocpp_consumer/gc_policy.py)."""

from __future__ import annotations

import gc
import weakref

import pytest

from ocpp_consumer import gc_policy


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def policy(monkeypatch, settings):
    settings.OCPP_GC_GEN0_THRESHOLD = 50_000
    monkeypatch.setattr(gc_policy, "_state", gc_policy._State())
    monkeypatch.setattr(gc_policy, "REFREEZE_MIN", 10)
    monkeypatch.setattr(gc_policy, "STALE_MIN", 20)
    thresholds = gc.get_threshold()
    yield gc_policy
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_first_connection_freezes_start_up_and_raises_the_young_threshold(policy):
    policy.connection_opened()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == 50_000
    assert policy.stats()["epoch"] == 1


def test_connections_are_frozen_as_the_fleet_grows(policy):
    tokens = [policy.connection_opened() for _ in range(25)]
    # Frozen at the first connection, then after each further 10 (REFREEZE_MIN).
    assert policy.stats()["epoch"] == 3
    assert tokens[0] == 0 and tokens[1] == 1 and tokens[-1] == 3
    assert policy.stats()["open"] == 25


def test_a_closed_connection_that_was_never_frozen_changes_nothing(policy):
    for _ in range(5):
        policy.connection_opened()
    token = policy.connection_opened()
    policy.connection_closed(token)
    assert policy.stats()["stale"] == 0 and policy.stats()["open"] == 5


def test_garbage_held_back_by_freezing_is_collected_once_enough_frozen_connections_closed(policy):
    tokens = [policy.connection_opened() for _ in range(60)]
    # Cyclic garbage made while the connections were open, then frozen with them.
    garbage = [Cycle() for _ in range(1000)]
    policy._freeze()
    witnesses = [weakref.ref(cycle) for cycle in garbage[::100]]
    del garbage
    epoch = policy.stats()["epoch"]
    for token in tokens[:19]:
        policy.connection_closed(token)
    # Not yet: 19 < STALE_MIN (20). (The freeze count itself is no witness: reference
    # counting frees frozen objects elsewhere in the process at any time.)
    assert policy.stats()["stale"] == 19 and policy.stats()["epoch"] == epoch
    assert all(ref() is not None for ref in witnesses)  # held back by the freeze
    policy.connection_closed(tokens[19])
    # Unfrozen, collected (the 1,000 cycles are gone), survivors frozen again.
    assert policy.stats()["stale"] == 0 and policy.stats()["epoch"] == epoch + 1
    assert not any(isinstance(o, Cycle) for o in gc.get_objects())
    assert all(ref() is None for ref in witnesses)


def test_threshold_zero_leaves_the_interpreter_alone(policy, settings):
    settings.OCPP_GC_GEN0_THRESHOLD = 0
    before = gc.get_freeze_count(), gc.get_threshold()
    token = policy.connection_opened()
    policy.connection_closed(token)
    assert (gc.get_freeze_count(), gc.get_threshold()) == before


async def test_a_burst_of_closes_is_collected_once_after_it(policy, monkeypatch):
    import asyncio

    monkeypatch.setattr(gc_policy, "COLLECT_DELAY", 0.05)
    tokens = [policy.connection_opened() for _ in range(60)]
    policy._freeze()
    epoch = policy.stats()["epoch"]
    for token in tokens[:50]:
        policy.connection_closed(token)
    assert policy.stats()["collect_scheduled"] and policy.stats()["stale"] == 50
    await asyncio.sleep(0.2)
    assert policy.stats()["stale"] == 0 and not policy.stats()["collect_scheduled"]
    assert policy.stats()["epoch"] == epoch + 1  # one collection, then one freeze


def test_a_flapping_charger_does_not_pile_up_frozen_garbage(policy, monkeypatch):
    # A connection that closes before any freeze reached it may still have garbage that a
    # later freeze holds back: it counts once that freeze comes.
    collections = []
    original = policy._collect_frozen_garbage
    monkeypatch.setattr(policy, "_collect_frozen_garbage", lambda: (collections.append(1), original()))
    stable = [policy.connection_opened() for _ in range(5)]
    for _ in range(300):
        policy.connection_closed(policy.connection_opened())
    # Every one of the 300 closes counts (not only the tenth whose open triggered a
    # freeze): about one collection per 20 (STALE_MIN).
    assert len(collections) >= 10, policy.stats()
    # bounded: never more than the threshold (20) plus one refreeze step (10) held back
    assert policy.stats()["stale"] + policy.stats()["closed_unfrozen"] <= 30
    assert policy.stats()["open"] == len(stable)
