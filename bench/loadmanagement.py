"""How long the load allocator takes for a large site.

    .venv/bin/python bench/loadmanagement.py [--connectors 500] [--feeders 5] [--runs 21]

Builds a site of N connectors (a mix of three-phase and one-phase cars on every phase,
some drawing little, a few of higher priority, some behind feeder groups, one charger
that refuses profiles) with a capacity too small for all of them at full power, and prints
the median and worst time of loadmanagement.allocator.allocate() for each strategy. The
allocator is pure (no database), so this is the whole cost of one allocation; building the
state from the database is measured apart by the enforcement's own logs.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadmanagement.allocator import STRATEGIES, Capacity, Demand, Node, SiteState, allocate  # noqa: E402


def site(connectors: int, feeders: int, strategy: str, seed: int = 19) -> SiteState:
    rnd = random.Random(seed)
    # Each feeder group takes about its share of the cars, with room for half of them at full power.
    feeder_amps = connectors / (feeders + 1) * 32 * 0.5
    nodes = tuple(
        Node(key=f"F{n}", capacity=Capacity(amps_per_phase=feeder_amps, margin_amps=5)) for n in range(feeders)
    )
    demands = []
    for number in range(connectors):
        demands.append(
            Demand(
                key=number,
                min_amps=6,
                max_amps=rnd.choice([16, 32, 32, 32]),
                phases=rnd.choice([(0, 1, 2), (0, 1, 2), (0, 1, 2), (0,), (1,), (2,)]),
                node=rnd.choice([None, *[n.key for n in nodes]]) if nodes else None,
                priority=1 if rnd.random() < 0.1 else 0,
                arrival=number,
                drawn_amps=rnd.choice([None, None, None, 3.5, 12]),
                fixed=number == 0,
            )
        )
    # Room for about 60 % of the cars at full power.
    return SiteState(
        site=Capacity(amps_per_phase=connectors * 32 * 0.6 * 0.8, margin_amps=10),
        demands=tuple(demands),
        strategy=strategy,
        nodes=nodes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=500)
    parser.add_argument("--feeders", type=int, default=5)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {args.connectors} connectors, {args.feeders} feeder groups"
    )
    for strategy in STRATEGIES:
        state = site(args.connectors, args.feeders, strategy)
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            allocation = allocate(state)
            timings.append(time.perf_counter() - started)
        running = sum(1 for limit in allocation.limits.values() if limit > 0)
        print(
            f"{strategy:9s} median {statistics.median(timings) * 1000:6.1f} ms, worst {max(timings) * 1000:6.1f} ms "
            f"({running} charging, {len(allocation.paused)} paused)"
        )


if __name__ == "__main__":
    main()
