"""Site load allocation: a pure function from the electrical state of a site to a current
limit (amperes per phase) for every car on it. No Django, no I/O: the enforcement service
(loadmanagement.services) builds a SiteState from the database, calls allocate() and
sends what changed.

The model
- A site is a tree of nodes: the site's grid connection, optionally with feeder groups
  under it (chargers behind one feeder). Each node has a capacity per phase (A) and/or in
  total (kW, converted by the caller to phase-amperes: W / nominal voltage), minus a
  safety margin.
- A demand is one car on one connector: the phases it draws on (one or three), its
  minimum (below which AC charging is not possible, 6 A for IEC 61851), its maximum (the
  lowest of connector, charger, car and any other limit in force), a priority, its arrival
  order, and optionally what it was seen drawing (for the "unused" strategy). A fixed
  demand is one we cannot control (its charger refused our profiles): it counts at its
  maximum and is never paused.

The rules
1. Admission. In order (priority strategy: highest priority first; otherwise arrival
   order), each car is admitted while its minimum still fits every node it sits under.
   The first car that does not fit, and every car after it, is paused (0 A): the first
   arrivals keep charging instead of every car being starved below its minimum.
2. Sharing. Admitted cars are raised together to a common level (each clipped to its own
   minimum and maximum) until a node is full; the cars under a full node stay there and
   the others keep rising (max-min fairness over the node tree). A node is full when any
   of its phases (or its total) is: a one-phase car counts only on its phase, but is held
   with the others of its node when the node is full on another phase, which keeps the
   rule monotone (below).
3. Priority strategy: the priority classes are raised one after the other, highest first;
   a lower class gets only what the higher ones leave.
4. Unused strategy: a car seen drawing well below its limit has its maximum lowered to its
   draw plus a headroom (never below its minimum); the rest goes to the others.

Guarantees (tested with hypothesis, tests/loadmanagement/test_allocator.py): the sum of
the limits on each phase of each node never exceeds its capacity minus margin (beyond
what fixed demands alone take); every car gets at least its minimum or is paused; no car
gets more than its maximum; freeing capacity (a car leaving, a larger site capacity, a
smaller margin, a car drawing less) never lowers anyone's limit, except to un-pause a
car, which gets its minimum before running cars get more than theirs. Deterministic: the
same state gives the same limits. All arithmetic is in whole tenths of an ampere (OCPP
limits have one decimal), so no rounding can push a sum over a capacity.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal

PHASES = 3
EQUAL = "equal"
PRIORITY = "priority"
UNUSED = "unused"
STRATEGIES = (EQUAL, PRIORITY, UNUSED)
# Limits are computed in tenths of an ampere.
SCALE = 10


@dataclass(frozen=True)
class Capacity:
    """What a node may carry: amperes per phase and/or phase-amperes in total (a kW
    capacity divided by the nominal voltage), each already net of nothing: the margin is
    given apart."""

    amps_per_phase: float | Decimal | None = None
    total_phase_amps: float | Decimal | None = None
    margin_amps: float | Decimal = 0


@dataclass(frozen=True)
class Node:
    """A feeder group (or the site itself, the root)."""

    key: Hashable
    capacity: Capacity
    parent: Hashable | None = None


@dataclass(frozen=True)
class Demand:
    key: Hashable
    min_amps: float | Decimal
    max_amps: float | Decimal
    phases: tuple[int, ...] = (0, 1, 2)  # 0 = L1, 1 = L2, 2 = L3
    node: Hashable | None = None  # the feeder group; None: directly under the site
    priority: int = 0
    arrival: int = 0  # smaller = earlier
    drawn_amps: float | Decimal | None = None  # seen drawing well below its limit: at most this
    fixed: bool = False  # not controllable: counts at max_amps, never paused


@dataclass(frozen=True)
class SiteState:
    site: Capacity
    demands: tuple[Demand, ...]
    strategy: str = EQUAL
    nodes: tuple[Node, ...] = ()
    unused_headroom_amps: float | Decimal = 2

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; one of {', '.join(STRATEGIES)}")


@dataclass
class Allocation:
    limits: dict[Hashable, float] = field(default_factory=dict)  # amperes per phase, 0 = paused
    paused: list[Hashable] = field(default_factory=list)  # in the order they were paused

    def limit(self, key: Hashable) -> float:
        return self.limits[key]


# --- integer tenths ----------------------------------------------------------------------


def _down(amps) -> int:
    return math.floor(Decimal(str(amps)) * SCALE)


def _up(amps) -> int:
    return math.ceil(Decimal(str(amps)) * SCALE)


@dataclass
class _Constraint:
    capacity: int
    members: list[tuple[int, int]]  # (demand index, weight)


@dataclass
class _Group:
    """One node: its constraints (a phase each, and the total) and the demands under it."""

    constraints: list[_Constraint]
    members: set[int]


def _capacities(capacity: Capacity) -> tuple[list[int | None], int | None]:
    margin = _up(capacity.margin_amps or 0)
    per_phase = None if capacity.amps_per_phase is None else max(0, _down(capacity.amps_per_phase) - margin)
    total = None
    if capacity.total_phase_amps is not None:
        total = max(0, _down(capacity.total_phase_amps) - margin * PHASES)
    return [per_phase] * PHASES, total


def _ancestry(state: SiteState) -> dict[Hashable, list[Hashable]]:
    parents = {node.key: node.parent for node in state.nodes}
    chains: dict[Hashable, list[Hashable]] = {}
    for key in parents:
        chain, current, seen = [], key, set()
        while current is not None:
            if current in seen or current not in parents:
                raise ValueError(f"feeder group {key!r} does not lead up to the site")
            seen.add(current)
            chain.append(current)
            current = parents[current]
        chains[key] = chain
    return chains


def _groups(state: SiteState, demands: list[Demand]) -> list[_Group]:
    chains = _ancestry(state)
    capacities = {None: state.site, **{node.key: node.capacity for node in state.nodes}}
    members: dict[Hashable, set[int]] = {key: set() for key in capacities}
    for index, demand in enumerate(demands):
        if demand.node is not None and demand.node not in chains:
            raise ValueError(f"demand {demand.key!r} names an unknown feeder group {demand.node!r}")
        for key in [*(chains[demand.node] if demand.node is not None else []), None]:
            members[key].add(index)
    groups = []
    for key, capacity in capacities.items():
        per_phase, total = _capacities(capacity)
        constraints = []
        for phase in range(PHASES):
            if per_phase[phase] is not None:
                on_phase = [(i, 1) for i in sorted(members[key]) if phase in demands[i].phases]
                constraints.append(_Constraint(per_phase[phase], on_phase))
        if total is not None:
            constraints.append(_Constraint(total, [(i, len(demands[i].phases)) for i in sorted(members[key])]))
        if constraints:
            groups.append(_Group(constraints, members[key]))
    return groups


# --- the algorithm -------------------------------------------------------------------------


def _bounds(demand: Demand, strategy: str, headroom: int) -> tuple[int, int]:
    low = _up(demand.min_amps)
    high = max(low, _down(demand.max_amps))
    if demand.fixed:
        return high, high
    if strategy == UNUSED and demand.drawn_amps is not None:
        high = max(low, min(high, _up(demand.drawn_amps) + headroom))
    return low, high


def _order(demands: list[Demand], strategy: str) -> list[int]:
    if strategy == PRIORITY:
        return sorted(
            range(len(demands)), key=lambda i: (-demands[i].priority, demands[i].arrival, str(demands[i].key))
        )
    return sorted(range(len(demands)), key=lambda i: (demands[i].arrival, str(demands[i].key)))


def _footprints(count: int, groups: list[_Group]) -> list[list[tuple[_Constraint, int]]]:
    """For each demand, the constraints it counts in and its weight in each."""
    footprints: list[list[tuple[_Constraint, int]]] = [[] for _ in range(count)]
    for group in groups:
        for constraint in group.constraints:
            for index, weight in constraint.members:
                footprints[index].append((constraint, weight))
    return footprints


def _admit(demands: list[Demand], order: list[int], low: list[int], groups: list[_Group]) -> tuple[set[int], list[int]]:
    """Fixed demands first, then the others in order until the first one that does not fit."""
    footprints = _footprints(len(demands), groups)
    used: dict[int, int] = {}  # id(constraint) -> load of the admitted minimums

    def fits(index: int) -> bool:
        return all(used.get(id(c), 0) + w * low[index] <= c.capacity for c, w in footprints[index])

    def take(index: int) -> None:
        for c, w in footprints[index]:
            used[id(c)] = used.get(id(c), 0) + w * low[index]

    admitted: set[int] = set()
    for index in order:
        if demands[index].fixed:
            take(index)
            admitted.add(index)
    paused: list[int] = []
    for index in order:
        if demands[index].fixed:
            continue
        if paused or not fits(index):
            paused.append(index)
        else:
            take(index)
            admitted.add(index)
    return admitted, paused


def _highest_level(constraint: _Constraint, active: set[int], alloc: list[int], low, high, top: int) -> int:
    """The highest whole level (tenths) to which the active members can rise together
    without this constraint going over; `top` when nothing stops them before it."""

    def load(level: int) -> int:
        total = 0
        for index, weight in constraint.members:
            value = alloc[index] if index not in active else min(max(level, low[index]), high[index])
            total += weight * value
        return total

    if load(top) <= constraint.capacity:
        return top
    lo, hi = 0, top  # load(lo) <= capacity holds: at level 0 everyone is at (admitted) minimum
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if load(middle) <= constraint.capacity:
            lo = middle
        else:
            hi = middle
    return lo


def _fill(tier: set[int], alloc: list[int], low: list[int], high: list[int], groups: list[_Group]) -> set[int]:
    """Raise the demands of `tier` together (max-min fair over the node tree). Returns the
    demands under the nodes this filled up, which lower classes may not rise in."""
    active = {i for i in tier if alloc[i] < high[i]}
    full: set[int] = set()
    while active:
        top = max(high[i] for i in active)
        levels = []
        for group in groups:
            # A constraint none of the rising demands counts in cannot stop them (it may
            # even be over capacity, through fixed demands alone).
            rising = [c for c in group.constraints if any(i in active for i, _ in c.members)]
            if rising:
                levels.append((min(_highest_level(c, active, alloc, low, high, top) for c in rising), group))
        level = min([top, *(lv for lv, _ in levels)])
        for index in active:
            alloc[index] = min(max(level, low[index]), high[index])
        frozen = {i for i in active if alloc[i] >= high[i]}
        for group_level, group in levels:
            if group_level == level and group_level < top:
                frozen |= group.members & active
                full |= group.members
        if not frozen:  # pragma: no cover - every round stops at a full node or at `top`
            break
        active -= frozen
    return full


def allocate(state: SiteState) -> Allocation:
    """The limit of every demand (amperes per phase, one decimal; 0 = paused)."""
    demands = list(state.demands)
    keys = [d.key for d in demands]
    if len(set(keys)) != len(keys):
        raise ValueError("demand keys must be unique")
    headroom = _up(state.unused_headroom_amps)
    bounds = [_bounds(d, state.strategy, headroom) for d in demands]
    low, high = [b[0] for b in bounds], [b[1] for b in bounds]
    groups = _groups(state, demands)
    order = _order(demands, state.strategy)
    admitted, paused = _admit(demands, order, low, groups)
    alloc = [low[i] if i in admitted else 0 for i in range(len(demands))]
    if state.strategy == PRIORITY:
        # Rounding leaves a full node a few tenths; they stay unused rather than go to a
        # lower class (which would then lose them when the higher class gets more room).
        full: set[int] = set()
        for priority in sorted({demands[i].priority for i in admitted}, reverse=True):
            tier = {i for i in admitted if demands[i].priority == priority} - full
            full |= _fill(tier, alloc, low, high, groups)
    else:
        _fill(admitted, alloc, low, high, groups)
    return Allocation(
        limits={keys[i]: alloc[i] / SCALE for i in range(len(demands))},
        paused=[keys[i] for i in paused],
    )


def phase_sums(state: SiteState, allocation: Allocation, node: Hashable | None = None) -> list[float]:
    """The sum of the limits on each phase under `node` (None: the whole site)."""
    chains = _ancestry(state)
    sums = [0.0] * PHASES
    for demand in state.demands:
        under = node is None or (demand.node is not None and node in chains[demand.node])
        if under:
            for phase in demand.phases:
                sums[phase] += allocation.limits[demand.key]
    return sums
