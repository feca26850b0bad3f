"""The load generator (a separate process): N chargers against one server.

Traffic (--traffic):
  fleet (default): chargers as a real fleet runs them (bench/ocpp_load/fleet.py): Basic
        auth with a password, 80% OCPP 1.6 / 20% 2.0.1, boot, status, authorise and start
        a transaction, then MeterValues / TransactionEvent Updated inside it, a Heartbeat
        every --heartbeat seconds, a stop and a new start every --session-seconds.
  bare: the old transaction-less traffic: no password, no boot, MeterValues only (1.6).

Modes (--mode):
  closed: every charger sends its next frame as soon as the previous one is answered.
  paced:  every charger sends one frame every --interval seconds (random phase).
  storm:  only the connect phase: the figures are the admission ones (below).

Chargers connect at --ramp per second (0 = all at once, a full restart); each is
"admitted" once its first transaction message was answered (fleet traffic). A probe
charger, connected before the others, sends a Heartbeat every --probe-every seconds all
along: its latency during the connect phase is what already-connected chargers see during
a storm. Measuring starts once every charger was admitted or failed.

Prints JSON lines: "connected" (connected, admitted, failed, first errors, handshake and
admission figures, the probe's Heartbeat latency during the connect phase), then "done"
(messages, messages/s, p50/p99 latency in ms, per action, and the probe's).
"""

import argparse
import asyncio
import gc
import json
import random
import time

import fleet  # bench/ocpp_load is sys.path[0] when this runs as a script
import gclog
import websockets


def bare_frame(n: int) -> str:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps(
        [
            2,
            f"m{n}",
            "MeterValues",
            {"connectorId": 1, "meterValue": [{"timestamp": ts, "sampledValue": fleet.SAMPLE_V16}]},
        ]
    )


def pick_ms(values: list[float], q: float):
    """The q-quantile of sorted seconds, in ms."""
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else None


class Stats:
    """Everything measured, in seconds."""

    def __init__(self) -> None:
        self.handshakes: list[float] = []
        self.admitted: list[float] = []  # connect start -> first transaction message answered
        self.admitted_at: list[float] = []  # perf_counter when admitted
        self.failed = 0
        self.latencies: list[float] = []
        self.by_action: dict[str, list[float]] = {}
        self.probe: dict[str, list[float]] = {"connect": [], "measured": []}

    def record(self, action: str, seconds: float) -> None:
        self.latencies.append(seconds)
        self.by_action.setdefault(action, []).append(seconds)


async def _connect(url: str, identity: str, protocol: str, secret: str | None):
    headers = [fleet.basic_auth_header(identity, secret)] if secret else None
    return await websockets.connect(
        url + identity,
        subprotocols=[protocol],
        additional_headers=headers,
        ping_interval=None,
        open_timeout=300,
        max_queue=None,
    )


async def bare_charger(index: int, args, run: dict, stats: Stats) -> None:
    began = time.perf_counter()
    async with await _connect(args.url, f"{args.prefix}{index}", fleet.V16, None) as ws:
        stats.handshakes.append(time.perf_counter() - began)
        stats.admitted.append(time.perf_counter() - began)
        stats.admitted_at.append(time.perf_counter())
        await run["gate"].wait()
        n = 0
        if args.mode == "paced":
            await asyncio.sleep(random.uniform(0, args.interval))
        while time.monotonic() < run["stop_at"]:
            n += 1
            sent = time.perf_counter()
            await ws.send(bare_frame(n))
            await ws.recv()
            stats.record("MeterValues", time.perf_counter() - sent)
            run["last_answer"] = time.monotonic()
            if args.mode == "paced":
                await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - sent)))


class Timed:
    """Wraps a fleet charger's call() to record each answered frame while measuring."""

    def __init__(self, charger: fleet.Charger, stats: Stats, run: dict) -> None:
        self.stats, self.run = stats, run
        self.measuring = False
        self._call = charger.call
        charger.call = self.call

    async def call(self, action: str, payload: dict) -> dict:
        sent = time.perf_counter()
        answer = await self._call(action, payload)
        if self.measuring:
            self.stats.record(action, time.perf_counter() - sent)
            self.run["last_answer"] = time.monotonic()
        return answer


async def fleet_charger(index: int, args, run: dict, stats: Stats) -> None:
    protocol = fleet.protocol_of(index)
    began = time.perf_counter()
    async with await _connect(args.url, f"{args.prefix}{index}", protocol, fleet.password(index)) as ws:
        stats.handshakes.append(time.perf_counter() - began)
        charger = fleet.charger_for(ws, index)
        timed = Timed(charger, stats, run)
        await charger.admit()
        stats.admitted.append(time.perf_counter() - began)
        stats.admitted_at.append(time.perf_counter())
        await run["gate"].wait()
        timed.measuring = True
        now = time.monotonic()
        # Random phases: in a 20 s closed loop about a sixth of the fleet stops and starts again.
        session_end = now + random.uniform(0, args.session_seconds)
        heartbeat_due = now + random.uniform(0, args.heartbeat)
        if args.mode == "paced":
            await asyncio.sleep(random.uniform(0, args.interval))
        while time.monotonic() < run["stop_at"]:
            sent = time.perf_counter()
            now = time.monotonic()
            if now >= session_end:
                await charger.restart_session()
                session_end = now + args.session_seconds
            elif now >= heartbeat_due:
                await charger.heartbeat()
                heartbeat_due = now + args.heartbeat
            else:
                await charger.sample()
            if args.mode == "paced":
                await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - sent)))


async def probe(args, run: dict, stats: Stats, ready: asyncio.Event) -> None:
    """A 1.6 charger connected before the storm, sending Heartbeats at a steady pace."""
    index = 0
    async with await _connect(args.url, f"{args.prefix}{index}", fleet.V16, fleet.password(index)) as ws:
        charger = fleet.Charger16(ws, index)
        await charger.admit()
        ready.set()
        while not run["probe_stop"]:
            sent = time.perf_counter()
            await charger.heartbeat()
            stats.probe[run["phase"]].append(time.perf_counter() - sent)
            await asyncio.sleep(max(0.0, args.probe_every - (time.perf_counter() - sent)))


async def main(args):
    stats = Stats()
    run = {"gate": asyncio.Event(), "stop_at": 0.0, "phase": "connect", "probe_stop": False}
    probe_task = None
    if args.traffic == "fleet" and args.probe_every > 0:
        ready = asyncio.Event()
        probe_task = asyncio.ensure_future(probe(args, run, stats, ready))
        await asyncio.wait({probe_task, asyncio.ensure_future(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if probe_task.done():
            probe_task.result()  # raises: the probe could not connect
    one_charger = fleet_charger if args.traffic == "fleet" else bare_charger
    tasks = []
    ramp_start = time.perf_counter()
    for i in range(1, args.count + 1):
        tasks.append(asyncio.ensure_future(one_charger(i, args, run, stats)))
        if args.ramp > 0:  # start the i-th connection at i / ramp seconds
            delay = ramp_start + i / args.ramp - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    # Wait until every charger is admitted or has failed (a failed one is a done task).
    while len(stats.admitted) + sum(1 for t in tasks if t.done()) < args.count:
        await asyncio.sleep(0.05)
    connect_seconds = time.perf_counter() - ramp_start
    admit_seconds = (max(stats.admitted_at) - ramp_start) if stats.admitted_at else None
    run["phase"] = "measured"
    failed = [t.exception() for t in tasks if t.done() and t.exception()]
    errors: dict[str, int] = {}
    for exc in failed:
        errors[repr(exc)[:160]] = errors.get(repr(exc)[:160], 0) + 1
    handshakes, admitted, probe_connect = (
        sorted(stats.handshakes),
        sorted(stats.admitted),
        sorted(stats.probe["connect"]),
    )
    print(
        json.dumps(
            {
                "event": "connected",
                "traffic": args.traffic,
                "connected": len(handshakes),
                "admitted": len(admitted),
                "failed": len(failed),
                "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:3]),
                "ramp_per_second": args.ramp,
                "connect_seconds": round(connect_seconds, 2),
                "handshake_p50_ms": pick_ms(handshakes, 0.5),
                "handshake_p99_ms": pick_ms(handshakes, 0.99),
                "handshake_max_ms": pick_ms(handshakes, 1.0),
                # Admission: from a charger's connect to its first transaction message answered.
                "admit_p50_ms": pick_ms(admitted, 0.5),
                "admit_p99_ms": pick_ms(admitted, 0.99),
                "admitted_per_second": round(len(admitted) / admit_seconds, 1) if admit_seconds else None,
                "probe_heartbeats": len(probe_connect),
                "probe_p50_ms": pick_ms(probe_connect, 0.5),
                "probe_p99_ms": pick_ms(probe_connect, 0.99),
                "probe_max_ms": pick_ms(probe_connect, 1.0),
            }
        ),
        flush=True,
    )
    seconds = 0.0 if args.mode == "storm" else args.seconds
    await asyncio.sleep(args.settle)  # the orchestrator samples the server's RSS now
    # The generator's own collector must not pause it while it measures (with 5,000
    # connections its full collections took 0.2 s and showed up as server latency): the
    # connections are frozen and the collector is off for the measured stretch (the
    # frames' garbage is freed by reference counting).
    gc.collect()
    gc.freeze()
    gc.disable()
    start = time.monotonic()
    run["stop_at"] = start + seconds
    run["gate"].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Up to the last answer: in paced mode the chargers then still sleep out their interval.
    elapsed = run.get("last_answer", time.monotonic()) - start
    run["probe_stop"] = True
    if probe_task is not None:
        await asyncio.gather(probe_task, return_exceptions=True)
    gc.enable()
    latencies, probe_measured = sorted(stats.latencies), sorted(stats.probe["measured"])
    print(
        json.dumps(
            {
                "event": "done",
                "messages": len(latencies),
                "per_second": round(len(latencies) / elapsed, 1) if latencies and elapsed > 0 else None,
                "p50_ms": pick_ms(latencies, 0.5),
                "p99_ms": pick_ms(latencies, 0.99),
                "by_action": {
                    action: {"n": len(v), "p50_ms": pick_ms(sorted(v), 0.5), "p99_ms": pick_ms(sorted(v), 0.99)}
                    for action, v in sorted(stats.by_action.items())
                },
                "probe_measured_p99_ms": pick_ms(probe_measured, 0.99),
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
    parser.add_argument("--traffic", choices=["fleet", "bare"], default="fleet")
    parser.add_argument("--mode", choices=["closed", "paced", "storm"], default="closed")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--ramp", type=float, default=250.0, help="connections started per second; 0 = all at once")
    parser.add_argument("--heartbeat", type=float, default=60.0, help="seconds between a fleet charger's Heartbeats")
    parser.add_argument(
        "--session-seconds", type=float, default=120.0, help="a fleet charger stops and starts again this often"
    )
    parser.add_argument(
        "--probe-every", type=float, default=0.1, help="the probe's Heartbeat period (0 = no probe charger)"
    )
    asyncio.run(main(parser.parse_args()))
