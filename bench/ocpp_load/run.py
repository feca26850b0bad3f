"""OCPP load benchmark: our daphne (journal + database on) against a bare reference server
(the `ocpp` package + `websockets`, no database), same machine, same load generator.

    .venv/bin/python bench/ocpp_load/run.py --count 1000 --mode closed --seconds 20
    .venv/bin/python bench/ocpp_load/run.py --count 5000 --mode paced --interval 10 --seconds 60
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench REDIS_URL=redis://127.0.0.1:6379/0 ...

Prints messages/s, p50/p99 latency and server RSS per connection for each server, and the
ratios. The CSMS database gets N chargers BENCH-1..N (no passwords: connect cost is not
what is measured). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

try:  # 5,000 chargers need 5,000+ sockets in the load generator and in the server
    import resource

    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _want = 65536 if _hard == resource.RLIM_INFINITY else min(_hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(_soft, _want), _hard))
except (ImportError, ValueError, OSError):
    pass

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def run_load(url: str, server: subprocess.Popen, args) -> dict:
    proc = psutil.Process(server.pid)
    rss_idle = proc.memory_info().rss
    load = subprocess.Popen(
        [
            PY,
            str(HERE / "load.py"),
            "--url",
            url,
            "--count",
            str(args.count),
            "--mode",
            args.mode,
            "--interval",
            str(args.interval),
            "--seconds",
            str(args.seconds),
            "--settle",
            "2",
            "--ramp",
            str(args.ramp),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    result: dict = {}
    load_proc = psutil.Process(load.pid)
    cpu_start = None
    for line in load.stdout:
        event = json.loads(line)
        if event["event"] == "connected":
            time.sleep(1)
            # CPU seconds of the server and of the load generator over the measured
            # stretch: shows which one was the bottleneck (1 core = 1.0 per second).
            cpu_start = (
                sum(proc.cpu_times()[:2]),
                sum(load_proc.cpu_times()[:2]),
                time.monotonic(),
                os.getloadavg()[0],
            )
            result["connected"] = event["connected"]
            result["connect_failures"] = event["failed"]
            for key in ("errors", "connect_seconds", "handshake_p50_ms", "handshake_p99_ms", "handshake_max_ms"):
                result[key] = event[key]
            if event["failed"]:
                print(f"  {event['failed']} of {args.count} chargers could not connect: {event['errors']}", flush=True)
            result["rss_connected_mb"] = round(proc.memory_info().rss / 2**20, 1)
            result["rss_per_connection_kb"] = round(
                (proc.memory_info().rss - rss_idle) / 1024 / max(1, event["connected"]), 1
            )
        else:
            result.update({k: event[k] for k in ("messages", "per_second", "p50_ms", "p99_ms")})
            if cpu_start is not None:
                elapsed = time.monotonic() - cpu_start[2]
                result["server_cpu"] = round((sum(proc.cpu_times()[:2]) - cpu_start[0]) / elapsed, 2)
                result["loadgen_cpu"] = round((sum(load_proc.cpu_times()[:2]) - cpu_start[1]) / elapsed, 2)
                result["loadavg_1m"] = round(cpu_start[3], 2)
    load.wait()
    result["rss_idle_mb"] = round(rss_idle / 2**20, 1)
    result["rss_end_mb"] = round(proc.memory_info().rss / 2**20, 1)
    return result


def bench_reference(args) -> dict:
    port = free_port()
    server = subprocess.Popen([PY, str(HERE / "reference_server.py"), str(port)], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server)
        return run_load(f"ws://127.0.0.1:{port}/ocpp/", server, args)
    finally:
        server.terminate()
        server.wait()


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet."""
    if not url.startswith(("postgres://", "postgresql://")):
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


def bench_csms(args) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.ocpp_load.settings", "PYTHONPATH": str(ROOT)}
    env.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")
    env.setdefault("CHANNEL_PREFIX", "csms-bench")
    ensure_database(env["DATABASE_URL"])
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    setup = (
        "from chargepoints.models import *; from sessions_app.models import *; from django.db import connection;"
        # On PostgreSQL: TRUNCATE, not DELETE (millions of dead rows from earlier runs made
        # each run slower than the last while autovacuum caught up), then VACUUM the rows
        # the run updates.
        "pg = connection.vendor == 'postgresql';"
        "c = connection.cursor();"
        "c.execute('TRUNCATE sessions_app_metersample, chargepoints_ocppmessage') if pg else "
        "(MeterSample.objects.all().delete(), OcppMessage.objects.all().delete());"
        f"have=set(ChargePoint.objects.filter(identity__startswith='BENCH-').values_list('identity',flat=True));"
        f"new=[ChargePoint(identity=f'BENCH-{{i}}', is_online=False) for i in range(1,{args.count}+1) if f'BENCH-{{i}}' not in have];"
        "ChargePoint.objects.bulk_create(new, batch_size=500);"
        "cps=ChargePoint.objects.filter(identity__startswith='BENCH-', evses__isnull=True);"
        "evses=Evse.objects.bulk_create([Evse(charge_point=c, evse_id=1) for c in cps], batch_size=500);"
        "Connector.objects.bulk_create([Connector(charge_point_id=e.charge_point_id, evse=e, connector_id=1) for e in evses], batch_size=500);"
        "[c.execute(f'VACUUM ANALYZE {t}') for t in ('chargepoints_chargepoint', 'chargepoints_connector')] if pg else None"
    )
    subprocess.run([PY, "manage.py", "shell", "-c", setup], env=env, cwd=ROOT, check=True)
    port = free_port()
    # The listen backlog: Twisted's default is 50, so a burst of connects overflows the
    # accept queue and the kernel drops SYNs (the charger retries after 1 s, 3 s, ...).
    # The kernel caps it at net.core.somaxconn.
    endpoint = f"tcp:port={port}:interface=127.0.0.1" + (f":backlog={args.backlog}" if args.backlog else "")
    command = [str(Path(PY).parent / "daphne"), "-v", "0", "-e", endpoint]
    if args.connect_timeout is not None:
        command += ["--websocket_connect_timeout", str(args.connect_timeout)]
    server = subprocess.Popen(
        command + ["config.asgi:application"],
        env=env,
        cwd=ROOT,
        stderr=None if args.server_stderr else subprocess.DEVNULL,
    )
    try:
        wait_port(port, server)
        return run_load(f"ws://127.0.0.1:{port}/ocpp/", server, args)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--mode", choices=["closed", "paced"], default="closed")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--only", choices=["both", "csms", "reference"], default="both")
    parser.add_argument(
        "--ramp",
        type=float,
        default=250.0,
        help="chargers connect at this many per second (0 = all at once); measuring starts when all are in",
    )
    parser.add_argument("--backlog", type=int, default=1024, help="daphne's listen backlog (0 = Twisted's default, 50)")
    parser.add_argument(
        "--connect-timeout", type=int, default=None, help="daphne --websocket_connect_timeout (default: daphne's, 5 s)"
    )
    parser.add_argument("--server-stderr", action="store_true", help="show daphne's stderr")
    parser.add_argument(
        "--gc-log",
        action="store_true",
        help="print garbage-collector pauses of 5 ms or more, of the server and the load generator",
    )
    args = parser.parse_args()
    if args.gc_log:
        os.environ["BENCH_GC_LOG"] = "1"
        args.server_stderr = True
    results = {}
    if args.only in ("both", "reference"):
        results["reference"] = bench_reference(args)
        print("reference", json.dumps(results["reference"]), flush=True)
    if args.only in ("both", "csms"):
        results["csms"] = bench_csms(args)
        print("csms     ", json.dumps(results["csms"]), flush=True)
    if len(results) == 2 and results["reference"].get("per_second"):
        ref, ours = results["reference"], results["csms"]
        print(
            f"ratio csms/reference: messages/s {ours['per_second'] / ref['per_second']:.2f}x, "
            f"p99 {ours['p99_ms'] / ref['p99_ms']:.2f}x, RSS/connection "
            f"{ours['rss_per_connection_kb'] / max(ref['rss_per_connection_kb'], 0.1):.2f}x"
        )
    print(
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB, "
        f"load average now {os.getloadavg()[0]:.2f}, ulimit -n {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}, "
        f"somaxconn {Path('/proc/sys/net/core/somaxconn').read_text().strip() if Path('/proc/sys/net/core/somaxconn').exists() else '?'}, "
        f"ramp {args.ramp:g}/s, "
        f"database {os.environ.get('DATABASE_URL', 'sqlite (var/bench.sqlite3)')}"
    )


if __name__ == "__main__":
    main()
