"""Command round trip across processes: the operator API on one daphne (B), the charger's
socket on another (A), sharing PostgreSQL and Redis. Run by run.py --commands.

A 1.6 charger connects to A and answers every CALL; one GetConfiguration at a time goes
to B's `POST /api/operator/charge-points/<id>/commands/v16/GetConfiguration/`, about
--rate per second for --seconds. Prints one JSON line: count, failures, p50/p99/max ms.
"""

import argparse
import asyncio
import json
import time

import fleet  # bench/ocpp_load is sys.path[0] when this runs as a script
import requests
import websockets


async def answer_calls(ws) -> None:
    while True:
        message = json.loads(await ws.recv())
        if message[0] == 2:
            result = {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}
            await ws.send(json.dumps([3, message[1], result]))


def one_command(session: requests.Session, url: str) -> tuple[float, int]:
    sent = time.perf_counter()
    response = session.post(url, json={"key": ["HeartbeatInterval"]}, timeout=60)
    return time.perf_counter() - sent, response.status_code


async def main(args) -> None:
    identity = f"{args.prefix}{args.index}"
    headers = [fleet.basic_auth_header(identity, fleet.password(args.index))]
    url = f"{args.api_url}/api/operator/charge-points/{identity}/commands/v16/GetConfiguration/"
    session = requests.Session()
    session.headers["X-API-Key"] = args.key
    async with websockets.connect(
        args.ws_url + identity, subprotocols=[fleet.V16], additional_headers=headers, ping_interval=None
    ) as ws:
        charger = fleet.Charger16(ws, args.index)
        await charger.call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Commands"})
        answering = asyncio.ensure_future(answer_calls(ws))
        await asyncio.to_thread(one_command, session, url)  # warm-up (connections, first query): not counted
        latencies, failures = [], {}
        stop_at = time.monotonic() + args.seconds
        while time.monotonic() < stop_at:
            seconds, status = await asyncio.to_thread(one_command, session, url)
            if status == 200:
                latencies.append(seconds)
            else:
                failures[status] = failures.get(status, 0) + 1
            await asyncio.sleep(max(0.0, 1 / args.rate - seconds))
        answering.cancel()
    latencies.sort()

    def pick(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None

    print(
        json.dumps(
            {
                "commands": len(latencies),
                "failures": failures,
                "p50_ms": pick(0.5),
                "p99_ms": pick(0.99),
                "max_ms": pick(1.0),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws-url", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--prefix", default="BENCH-")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
