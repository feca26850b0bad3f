"""The load generator (a separate process): N chargers sending MeterValues.

closed: every charger sends, waits for the answer, sends again, for --seconds.
paced:  every charger sends one MeterValues every --interval seconds (random phase).

Chargers connect at --ramp connections per second (default 250: a fleet coming back after
a server restart reconnects over seconds, not within one millisecond; 0 = all at once).
Measuring starts only once every charger has connected or failed. Prints JSON lines: the
connect phase (connected, failed, the first errors, handshake p50/p99/max, how long the
whole ramp took), then messages, messages/s, p50/p99 latency in ms.
"""

import argparse
import asyncio
import gc
import json
import random
import time

import gclog  # bench/ocpp_load is sys.path[0] when this runs as a script
import websockets

SAMPLE = [
    {
        "value": "123456",
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unit": "Wh",
    },
    {"value": "10950.3", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W"},
    {"value": "15.8", "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
    {"value": "15.8", "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
    {"value": "15.8", "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
    {"value": "230.1", "context": "Sample.Periodic", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
    {"value": "57", "context": "Sample.Periodic", "measurand": "SoC", "location": "EV", "unit": "Percent"},
]


def frame(n: int) -> str:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps(
        [2, f"m{n}", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": ts, "sampledValue": SAMPLE}]}]
    )


async def charger(url, run, mode, interval, latencies, connected):
    began = time.perf_counter()
    async with websockets.connect(
        url, subprotocols=["ocpp1.6"], ping_interval=None, open_timeout=300, max_queue=None
    ) as ws:
        connected.append(time.perf_counter() - began)
        await run["gate"].wait()
        n = 0
        if mode == "paced":
            await asyncio.sleep(random.uniform(0, interval))
        while time.monotonic() < run["stop_at"]:
            n += 1
            sent = time.perf_counter()
            await ws.send(frame(n))
            await ws.recv()
            latencies.append(time.perf_counter() - sent)
            run["last_answer"] = time.monotonic()
            if mode == "paced":
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - sent)))


async def main(args):
    latencies: list[float] = []
    connected: list[int] = []
    run = {"gate": asyncio.Event(), "stop_at": 0.0}
    tasks = []
    ramp_start = time.perf_counter()
    for i in range(1, args.count + 1):
        tasks.append(
            asyncio.ensure_future(
                charger(f"{args.url}{args.prefix}{i}", run, args.mode, args.interval, latencies, connected)
            )
        )
        if args.ramp > 0:  # start the i-th connection at i / ramp seconds
            delay = ramp_start + i / args.ramp - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    # Wait until every charger is connected or has failed (a failed one is a done task).
    while len(connected) + sum(1 for t in tasks if t.done()) < args.count:
        await asyncio.sleep(0.05)
    ramp_seconds = time.perf_counter() - ramp_start
    failed = [t.exception() for t in tasks if t.done() and t.exception()]
    errors: dict[str, int] = {}
    for exc in failed:
        errors[repr(exc)[:160]] = errors.get(repr(exc)[:160], 0) + 1
    handshakes = sorted(connected)

    def pick_s(values, q):
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else None

    print(
        json.dumps(
            {
                "event": "connected",
                "connected": len(connected),
                "failed": len(failed),
                "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:3]),
                "ramp_per_second": args.ramp,
                "connect_seconds": round(ramp_seconds, 2),
                "handshake_p50_ms": pick_s(handshakes, 0.5),
                "handshake_p99_ms": pick_s(handshakes, 0.99),
                "handshake_max_ms": round(handshakes[-1] * 1000, 1) if handshakes else None,
            }
        ),
        flush=True,
    )
    await asyncio.sleep(args.settle)  # the orchestrator samples the server's RSS now
    # The generator's own collector must not pause it while it measures (with 5,000
    # connections its full collections took 0.2 s and showed up as server latency): the
    # connections are frozen and the collector is off for the measured stretch (the
    # frames' garbage is freed by reference counting).
    gc.collect()
    gc.freeze()
    gc.disable()
    start = time.monotonic()
    run["stop_at"] = start + args.seconds
    run["gate"].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Up to the last answer: in paced mode the chargers then still sleep out their interval.
    elapsed = run.get("last_answer", time.monotonic()) - start
    gc.enable()
    latencies.sort()

    def pick(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2) if latencies else None

    print(
        json.dumps(
            {
                "event": "done",
                "messages": len(latencies),
                "per_second": round(len(latencies) / elapsed, 1),
                "p50_ms": pick(0.50),
                "p99_ms": pick(0.99),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    gclog.install("load generator")
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", default="BENCH-")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--mode", choices=["closed", "paced"], default="closed")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--ramp", type=float, default=250.0, help="connections started per second; 0 = all at once")
    asyncio.run(main(parser.parse_args()))
