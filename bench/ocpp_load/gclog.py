"""Print garbage-collector pauses to stderr (BENCH_GC_LOG=1, or run.py --gc-log): which
process paused, how long, which generation. How the collector's share of p99 was found."""

import gc
import os
import sys
import time

MIN_MS = 5.0


def install(label: str) -> None:
    if not os.environ.get("BENCH_GC_LOG"):
        return
    started: list[float] = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= MIN_MS:
            print(
                f"{label} gc gen{info['generation']} {ms:.1f} ms, {info['collected']} collected",
                file=sys.stderr,
                flush=True,
            )

    gc.callbacks.append(callback)
