"""What a NATS outage costs the callers of the driver-event publisher.

    .venv/bin/python bench/nats_outage.py [--events 10000] [--limit 10000] [--outage 30]

Starts a nats-server of its own (the `nats-server` binary on PATH) on free ports, then:
1. with NATS up: the time of one publish call (p50, p99, max) and how long the events take
   to reach a subscriber;
2. NATS stopped: the same burst again, the log lines written while NATS stays down for
   `--outage` seconds, the connection rounds tried meanwhile;
3. NATS started again: how long until the publisher is connected and has sent what it kept,
   the number of connections this process holds (the server's /connz), what was dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


class _Counter(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_nats(port: int, monitor: int) -> subprocess.Popen:
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nats-server did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def _burst(publisher, events: int, first: int) -> list[float]:
    timings = []
    for seq in range(first, first + events):
        started = time.perf_counter()
        publisher.publish("drivers.7.CHARGING", json.dumps({"seq": seq}).encode())
        timings.append(time.perf_counter() - started)
    return timings


def _figures(timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return (
        f"p50 {statistics.median(ordered) * 1e6:.1f} us, p99 {p99 * 1e6:.1f} us, "
        f"max {ordered[-1] * 1e3:.2f} ms, total {sum(ordered) * 1e3:.1f} ms"
    )


async def _receive(url: str, until_seq: int, timeout: float) -> tuple[int, float]:
    """Subscribe, then count messages until `until_seq` arrives; answer (count, seconds)."""
    import nats

    client = await nats.connect(url)
    subscription = await client.subscribe("drivers.7.>")
    await client.flush()
    started, count = time.monotonic(), 0
    try:
        while True:
            message = await subscription.next_msg(timeout=timeout)
            count += 1
            if json.loads(message.data)["seq"] == until_seq:
                return count, time.monotonic() - started
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=30.0, help="seconds NATS stays down")
    args = parser.parse_args()

    import django
    from django.conf import settings

    django.setup()
    port, monitor = _free_port(), _free_port()
    url = f"nats://127.0.0.1:{port}"
    settings.NATS_URL, settings.NATS_OUTBOX_LIMIT = url, args.limit
    counter = _Counter()
    logging.getLogger().addHandler(counter)

    from drivers.nats_publisher import CLIENT_NAME, NatsPublisher

    server = _start_nats(port, monitor)
    publisher = NatsPublisher()
    publisher.publish("drivers.7.CHARGING", b'{"seq": 0}')  # start the sender and connect
    while publisher.status()["status"] != "connected":
        time.sleep(0.01)

    loop = asyncio.new_event_loop()
    receiving = loop.run_in_executor(None, lambda: asyncio.run(_receive(url, args.events, 30)))
    time.sleep(0.5)
    up = _burst(publisher, args.events, 1)
    count, seconds = loop.run_until_complete(receiving)
    print(f"NATS up,   {args.events} publishes: {_figures(up)}; {count} received in {seconds:.2f} s")

    _stop(server)
    while publisher.status()["status"] != "down":
        time.sleep(0.01)
    lines_before, rounds_before = len(counter.lines), publisher.connect_rounds
    down = _burst(publisher, args.events, args.events + 1)
    time.sleep(args.outage)
    print(f"NATS down, {args.events} publishes: {_figures(down)}")
    print(
        f"  over {args.outage:g} s down: {len(counter.lines) - lines_before} log lines, "
        f"{publisher.connect_rounds - rounds_before} connection rounds, status {publisher.status()}"
    )

    server = _start_nats(port, monitor)
    started = time.monotonic()
    while publisher.status()["status"] != "connected":
        time.sleep(0.01)
    connected = time.monotonic() - started
    while publisher.status()["queued"]:
        time.sleep(0.01)
    drained = time.monotonic() - started
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/connz") as answer:
        ours = [c for c in json.load(answer).get("connections") or [] if c.get("name") == CLIENT_NAME]
    print(
        f"NATS back: connected after {connected:.2f} s, kept events sent after {drained:.2f} s; "
        f"this process holds {len(ours)} connection(s)"
    )
    print(f"  status {publisher.status()}")
    print("  log lines:", *counter.lines, sep="\n    ")
    publisher.stop()
    _stop(server)


if __name__ == "__main__":
    main()
