"""The allocator's invariants over thousands of generated sites (hypothesis), and a few
sites small enough to check by hand."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadmanagement.allocator import (
    EQUAL,
    PRIORITY,
    STRATEGIES,
    UNUSED,
    Capacity,
    Demand,
    Node,
    SiteState,
    allocate,
    phase_sums,
)

MANY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PHASE_SETS = [(0, 1, 2), (0,), (1,), (2,)]


def tenths(amps) -> int:
    return round(float(amps) * 10)


def net(amps, margin) -> int:
    return max(0, math.floor(float(amps) * 10 + 1e-9) - math.ceil(float(margin) * 10 - 1e-9))


@st.composite
def capacities(draw, low=0, high=200):
    per_phase = draw(st.one_of(st.none(), st.integers(low, high)))
    total = draw(st.one_of(st.none(), st.integers(low * 3, high * 3)))
    if per_phase is None and total is None:
        per_phase = draw(st.integers(low, high))
    return Capacity(amps_per_phase=per_phase, total_phase_amps=total, margin_amps=draw(st.sampled_from([0, 0, 2, 5])))


@st.composite
def site_states(draw, strategies=STRATEGIES, fixed=True):
    feeders = draw(st.integers(0, 2))
    nodes = []
    for number in range(feeders):
        parent = draw(st.sampled_from([None, *[n.key for n in nodes]]))
        nodes.append(Node(key=f"F{number}", capacity=draw(capacities(0, 120)), parent=parent))
    count = draw(st.integers(0, 24))
    demands = []
    for number in range(count):
        low = draw(st.sampled_from([6, 6, 6, 8, 10]))
        demands.append(
            Demand(
                key=f"C{number}",
                min_amps=low,
                max_amps=draw(st.sampled_from([4, 6, 10, 13, 16, 20, 32, 63])),
                phases=draw(st.sampled_from(PHASE_SETS)),
                node=draw(st.sampled_from([None, *[n.key for n in nodes]])),
                priority=draw(st.integers(0, 2)),
                arrival=draw(st.integers(0, 30)),
                drawn_amps=draw(st.one_of(st.none(), st.integers(0, 40))),
                fixed=fixed and draw(st.integers(0, 9)) == 0,
            )
        )
    return SiteState(
        site=draw(capacities(0, 250)),
        demands=tuple(demands),
        strategy=draw(st.sampled_from(strategies)),
        nodes=tuple(nodes),
        unused_headroom_amps=draw(st.sampled_from([0, 1, 2, 3])),
    )


def under(state: SiteState, node_key) -> list[Demand]:
    """The demands a node (None: the site) carries."""
    parents = {n.key: n.parent for n in state.nodes}

    def chain(key):
        while key is not None:
            yield key
            key = parents[key]

    return [d for d in state.demands if node_key is None or node_key in set(chain(d.node))]


def fixed_load(demand: Demand) -> int:
    """What an uncontrollable car counts at (tenths)."""
    return max(tenths(demand.max_amps), math.ceil(float(demand.min_amps) * 10)) if demand.fixed else 0


def effective_high(state: SiteState, demand: Demand) -> int:
    low = math.ceil(float(demand.min_amps) * 10)
    high = max(low, tenths(demand.max_amps))
    if state.strategy == UNUSED and demand.drawn_amps is not None and not demand.fixed:
        high = max(low, min(high, tenths(demand.drawn_amps) + tenths(state.unused_headroom_amps)))
    return high


# --- invariants --------------------------------------------------------------------------


@MANY
@given(site_states())
def test_no_phase_of_any_node_carries_more_than_its_capacity_minus_margin(state):
    allocation = allocate(state)
    for key, capacity in [(None, state.site), *[(n.key, n.capacity) for n in state.nodes]]:
        demands = under(state, key)
        if capacity.amps_per_phase is not None:
            for phase in range(3):
                on_phase = [d for d in demands if phase in d.phases]
                total = sum(tenths(allocation.limits[d.key]) for d in on_phase)
                fixed = sum(fixed_load(d) for d in on_phase)
                assert total <= max(net(capacity.amps_per_phase, capacity.margin_amps), fixed)
        if capacity.total_phase_amps is not None:
            total = sum(tenths(allocation.limits[d.key]) * len(d.phases) for d in demands)
            fixed = sum(fixed_load(d) * len(d.phases) for d in demands)
            margin = math.ceil(float(capacity.margin_amps) * 10 - 1e-9) * 3
            assert total <= max(max(0, tenths(capacity.total_phase_amps) - margin), fixed)


@MANY
@given(site_states())
def test_every_car_gets_its_minimum_or_is_paused_and_never_more_than_its_maximum(state):
    allocation = allocate(state)
    for demand in state.demands:
        limit = tenths(allocation.limits[demand.key])
        if demand.fixed:
            assert limit == fixed_load(demand)
            assert demand.key not in allocation.paused
        elif limit == 0:
            assert demand.key in allocation.paused
        else:
            assert math.ceil(float(demand.min_amps) * 10) <= limit <= effective_high(state, demand)
            assert demand.key not in allocation.paused


@MANY
@given(site_states(fixed=False))
def test_cars_are_paused_in_arrival_order(state):
    allocation = allocate(state)
    if state.strategy == PRIORITY:
        order = sorted(state.demands, key=lambda d: (-d.priority, d.arrival, d.key))
    else:
        order = sorted(state.demands, key=lambda d: (d.arrival, d.key))
    paused = set(allocation.paused)
    first_paused = next((n for n, d in enumerate(order) if d.key in paused), len(order))
    assert paused == {d.key for d in order[first_paused:]}


def _freed(state: SiteState, data) -> SiteState:
    """The same site with some capacity freed: a car gone, a larger site capacity, a smaller
    margin, or a car drawing less. (With feeder groups a car leaving a feeder can let the
    feeder's other cars take more, on other phases, than it freed at the site: max-min
    fairness over several resources is not monotone there, so cars leave only sites
    without feeder groups; the site's own capacity and margin hold for all.)"""
    kinds = ["capacity", "margin"] if state.nodes else ["leave", "capacity", "margin", "draw less"]
    how = data.draw(st.sampled_from(kinds))
    if how == "leave" and state.demands:
        gone = data.draw(st.sampled_from([d.key for d in state.demands]))
        return replace(state, demands=tuple(d for d in state.demands if d.key != gone))
    if how == "capacity":
        more = data.draw(st.integers(1, 50))
        site = state.site
        return replace(
            state,
            site=replace(
                site,
                amps_per_phase=None if site.amps_per_phase is None else site.amps_per_phase + more,
                total_phase_amps=None if site.total_phase_amps is None else site.total_phase_amps + 3 * more,
            ),
        )
    if how == "margin":
        return replace(state, site=replace(state.site, margin_amps=0))
    if state.demands:
        index = data.draw(st.integers(0, len(state.demands) - 1))
        demands = list(state.demands)
        demands[index] = replace(demands[index], max_amps=max(0, float(demands[index].max_amps) - 3))
        return replace(state, demands=tuple(demands))
    return state


@MANY
@given(site_states(), st.data())
def test_freeing_capacity_never_lowers_a_limit_unless_a_paused_car_starts(state, data):
    before = allocate(state)
    freed = _freed(state, data)
    after = allocate(freed)
    remaining = {d.key for d in freed.demands}
    # A running car keeps running.
    assert not (set(after.paused) - set(before.paused))
    unpaused = (set(before.paused) & remaining) - set(after.paused)
    if not unpaused:
        for key in remaining:
            assert after.limits[key] >= before.limits[key] or (
                # the car drawing less: its own limit may follow its lower maximum
                after.limits[key] == effective_high(freed, next(d for d in freed.demands if d.key == key)) / 10
            ), key


@MANY
@given(site_states(), st.randoms(use_true_random=False))
def test_the_same_site_gives_the_same_limits_whatever_the_order_of_the_cars(state, rnd: random.Random):
    shuffled = list(state.demands)
    rnd.shuffle(shuffled)
    assert allocate(replace(state, demands=tuple(shuffled))).limits == allocate(state).limits


# --- by hand ------------------------------------------------------------------------------


def cars(count: int, **fields) -> tuple[Demand, ...]:
    return tuple(Demand(key=f"C{n}", min_amps=6, max_amps=32, arrival=n, **fields) for n in range(count))


def test_equal_share_splits_a_32_a_site_between_four_cars():
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32), demands=cars(4)))
    assert allocation.limits == {"C0": 8.0, "C1": 8.0, "C2": 8.0, "C3": 8.0}
    assert allocation.paused == []


def test_the_margin_is_kept_free():
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32, margin_amps=2), demands=cars(3)))
    assert allocation.limits == {"C0": 10.0, "C1": 10.0, "C2": 10.0}


def test_the_last_arrivals_are_paused_when_not_everyone_gets_6_a():
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32), demands=cars(6)))
    assert allocation.paused == ["C5"]
    assert allocation.limits["C5"] == 0
    assert [allocation.limits[f"C{n}"] for n in range(5)] == [6.4] * 5


def test_a_one_phase_car_counts_on_its_phase_only():
    demands = (
        Demand("three", 6, 32, phases=(0, 1, 2), arrival=0),
        Demand("on-L1", 6, 32, phases=(0,), arrival=1),
        Demand("on-L2", 6, 32, phases=(1,), arrival=2),
    )
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32), demands=demands))
    assert allocation.limits == {"three": 16.0, "on-L1": 16.0, "on-L2": 16.0}
    state = SiteState(site=Capacity(amps_per_phase=32), demands=demands)
    assert phase_sums(state, allocation) == [32.0, 32.0, 16.0]


def test_a_car_that_takes_less_leaves_the_rest_to_the_others():
    demands = (Demand("small", 6, 10, arrival=0), Demand("big", 6, 32, arrival=1))
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32), demands=demands))
    assert allocation.limits == {"small": 10.0, "big": 22.0}


def test_priority_first_fills_the_higher_class_before_the_lower_one():
    demands = (
        Demand("fleet", 6, 20, priority=1, arrival=1),
        Demand("guest-1", 6, 32, arrival=0),
        Demand("guest-2", 6, 32, arrival=2),
    )
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=40), demands=demands, strategy=PRIORITY))
    assert allocation.limits == {"fleet": 20.0, "guest-1": 10.0, "guest-2": 10.0}
    equal = allocate(SiteState(site=Capacity(amps_per_phase=40), demands=demands, strategy=EQUAL))
    assert equal.limits == {"fleet": 13.3, "guest-1": 13.3, "guest-2": 13.3}


def test_unused_gives_a_car_that_draws_little_its_draw_plus_headroom():
    demands = (Demand("full", 6, 32, arrival=0, drawn_amps=9), Demand("hungry", 6, 32, arrival=1))
    allocation = allocate(
        SiteState(site=Capacity(amps_per_phase=32), demands=demands, strategy=UNUSED, unused_headroom_amps=2)
    )
    assert allocation.limits == {"full": 11.0, "hungry": 21.0}
    # A suspended car (drawing nothing) keeps its minimum, so it can start again.
    demands = (Demand("suspended", 6, 32, arrival=0, drawn_amps=0), Demand("hungry", 6, 32, arrival=1))
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32), demands=demands, strategy=UNUSED))
    assert allocation.limits == {"suspended": 6.0, "hungry": 26.0}


def test_a_feeder_group_limits_its_chargers_and_the_rest_share_the_site():
    nodes = (Node("garage", Capacity(amps_per_phase=16)),)
    demands = (
        Demand("g1", 6, 32, node="garage", arrival=0),
        Demand("g2", 6, 32, node="garage", arrival=1),
        Demand("street", 6, 32, arrival=2),
    )
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=40), demands=demands, nodes=nodes))
    assert allocation.limits == {"g1": 8.0, "g2": 8.0, "street": 24.0}


def test_a_kw_capacity_counts_each_phase_a_car_draws_on():
    # 11.04 kW at 230 V = 48 phase-amperes: a 3-phase car and a 1-phase car share it.
    demands = (Demand("three", 6, 32, arrival=0), Demand("one", 6, 32, phases=(0,), arrival=1))
    allocation = allocate(SiteState(site=Capacity(total_phase_amps=48), demands=demands))
    assert allocation.limits == {"three": 12.0, "one": 12.0}


def test_a_charger_that_refuses_profiles_counts_at_its_maximum():
    demands = (Demand("refuses", 6, 16, fixed=True, arrival=5), *cars(2))
    allocation = allocate(SiteState(site=Capacity(amps_per_phase=32), demands=demands))
    assert allocation.limits == {"refuses": 16.0, "C0": 8.0, "C1": 8.0}


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="unknown strategy"):
        SiteState(site=Capacity(amps_per_phase=32), demands=(), strategy="greedy")
    with pytest.raises(ValueError, match="unknown feeder group"):
        allocate(SiteState(site=Capacity(amps_per_phase=32), demands=(Demand("a", 6, 32, node="nope"),)))
    with pytest.raises(ValueError, match="unique"):
        allocate(SiteState(site=Capacity(amps_per_phase=32), demands=(Demand("a", 6, 32), Demand("a", 6, 32))))
