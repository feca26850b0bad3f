"""OCPP load benchmark: our daphne (journal + database on) against a bare reference server
(the `ocpp` package + `websockets`, no database), same machine, same load generator.

    .venv/bin/python bench/ocpp_load/run.py --count 1000 --mode closed --seconds 20
    .venv/bin/python bench/ocpp_load/run.py --count 5000 --mode paced --interval 10 --seconds 60
    .venv/bin/python bench/ocpp_load/run.py --count 5000 --mode storm --ramp 0 --only csms
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csms_bench REDIS_URL=redis://127.0.0.1:6379/0 ... \
        [--fresh] [--commands 20]

The traffic is a real fleet's by default (bench/ocpp_load/fleet.py: passwords, 80% 1.6 /
20% 2.0.1, transactions; --traffic bare is the old MeterValues-only traffic). Prints the
connect phase (handshakes, admission rate, a probe charger's Heartbeat latency during the
storm), then messages/s, p50/p99 latency and server RSS per connection for each server,
and the ratios. --fresh drops, creates and migrates the CSMS database first (a
deployment's first hour); otherwise the database of the previous run is reused and reset
(bench/ocpp_load/fleet_setup.py). --commands S starts a second daphne (B) and measures
the operator API's command round trip through B to a charger on A for S seconds idle,
then again during the measured stretch. Not part of the test suite.
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


def run_load(url: str, server: subprocess.Popen, args, during=None) -> dict:
    """Run the load generator against `url`; `during(seconds)` (if given) starts when the
    measured stretch does and returns a callable giving its result at the end."""
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
            "--traffic",
            args.traffic,
            "--heartbeat",
            str(args.heartbeat),
            "--session-seconds",
            str(args.session_seconds),
            "--probe-every",
            str(args.probe_every),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    result: dict = {}
    load_proc = psutil.Process(load.pid)
    cpu_start = None
    finish_during = None
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
            for key in (
                "admitted",
                "errors",
                "connect_seconds",
                "handshake_p50_ms",
                "handshake_p99_ms",
                "handshake_max_ms",
                "admit_p50_ms",
                "admit_p99_ms",
                "admitted_per_second",
                "probe_heartbeats",
                "probe_p50_ms",
                "probe_p99_ms",
                "probe_max_ms",
            ):
                result[key] = event[key]
            if event["failed"]:
                print(f"  {event['failed']} of {args.count} chargers could not connect: {event['errors']}", flush=True)
            result["rss_connected_mb"] = round(proc.memory_info().rss / 2**20, 1)
            result["rss_per_connection_kb"] = round(
                (proc.memory_info().rss - rss_idle) / 1024 / max(1, event["connected"]), 1
            )
            if during is not None and args.mode != "storm":
                finish_during = during(max(1.0, args.seconds - 2))
        else:
            result.update(
                {k: event[k] for k in ("messages", "per_second", "p50_ms", "p99_ms", "probe_measured_p99_ms")}
            )
            result["by_action"] = event["by_action"]
            if cpu_start is not None:
                elapsed = time.monotonic() - cpu_start[2]
                result["server_cpu"] = round((sum(proc.cpu_times()[:2]) - cpu_start[0]) / elapsed, 2)
                result["loadgen_cpu"] = round((sum(load_proc.cpu_times()[:2]) - cpu_start[1]) / elapsed, 2)
                result["loadavg_1m"] = round(cpu_start[3], 2)
    load.wait()
    if finish_during is not None:
        result["commands_under_load"] = finish_during()
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


def ensure_database(url: str, *, fresh: bool) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet (dropped first
    with `fresh`)."""
    if not url.startswith(("postgres://", "postgresql://")):
        if fresh and url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


BARE_SETUP = (
    "from chargepoints.models import *; from sessions_app.models import *; from django.db import connection;"
    "pg = connection.vendor == 'postgresql';"
    "c = connection.cursor();"
    "c.execute('TRUNCATE sessions_app_metersample, chargepoints_ocppmessage') if pg else "
    "(MeterSample.objects.all().delete(), OcppMessage.objects.all().delete());"
    "have=set(ChargePoint.objects.filter(identity__startswith='BENCH-').values_list('identity',flat=True));"
    "new=[ChargePoint(identity=f'BENCH-{{i}}', is_online=False) for i in range(1,{count}+1) if f'BENCH-{{i}}' not in have];"
    "ChargePoint.objects.bulk_create(new, batch_size=500);"
    # (chargers left by a fleet run have passwords; the fleet set-up gives them back)
    "ChargePoint.objects.filter(identity__startswith='BENCH-').update(password_hash='');"
    "cps=ChargePoint.objects.filter(identity__startswith='BENCH-', evses__isnull=True);"
    "evses=Evse.objects.bulk_create([Evse(charge_point=c, evse_id=1) for c in cps], batch_size=500);"
    "Connector.objects.bulk_create([Connector(charge_point_id=e.charge_point_id, evse=e, connector_id=1) for e in evses], batch_size=500);"
    "[c.execute(f'VACUUM ANALYZE {{t}}') for t in ('chargepoints_chargepoint', 'chargepoints_connector')] if pg else None"
)


def prepare_database(args, env: dict) -> dict:
    """Migrate and set the fleet up; returns fleet_setup's answer (the API key)."""
    ensure_database(env["DATABASE_URL"], fresh=args.fresh)
    began = time.monotonic()
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    if args.traffic == "bare":
        # The old bench: chargers without passwords (connect cost was not what it measured).
        subprocess.run(
            [PY, "manage.py", "shell", "-c", BARE_SETUP.format(count=args.count)], env=env, cwd=ROOT, check=True
        )
        answer = {}
    else:
        command = [PY, str(HERE / "fleet_setup.py"), "--count", str(args.count)] + ([] if args.fresh else ["--warm"])
        command += ["--analyze"] if args.analyze else []
        answer = json.loads(
            subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        )
    print(
        f"database {'fresh' if args.fresh else 'reused'}: migrated and set up in {time.monotonic() - began:.1f} s",
        flush=True,
    )
    return answer


def start_daphne(args, env: dict) -> tuple[subprocess.Popen, int]:
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
    wait_port(port, server)
    return server, port


def command_probe(args, env: dict, ws_port: int, api_port: int, key: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            PY,
            str(HERE / "command_probe.py"),
            "--ws-url",
            f"ws://127.0.0.1:{ws_port}/ocpp/",
            "--api-url",
            f"http://127.0.0.1:{api_port}",
            "--key",
            key,
            "--index",
            str(args.count + 1),
            "--seconds",
            str(seconds),
            "--rate",
            str(args.command_rate),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def _probe_result(probe: subprocess.Popen) -> dict:
    out, _ = probe.communicate()
    lines = [line for line in out.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {"error": f"command probe exited {probe.returncode}"}


def bench_csms(args) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.ocpp_load.settings",
        "PYTHONPATH": str(ROOT),
        "BENCH_TRAFFIC": args.traffic,
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}")
    env.setdefault("CHANNEL_PREFIX", "csms-bench")
    setup = prepare_database(args, env)
    servers = []
    try:
        server, port = start_daphne(args, env)
        servers.append(server)
        during = None
        result: dict = {}
        if args.commands and setup.get("api_key"):
            api_server, api_port = start_daphne(args, env)
            servers.append(api_server)
            result["commands_idle"] = _probe_result(
                command_probe(args, env, port, api_port, setup["api_key"], args.commands)
            )
            print("  commands idle:", json.dumps(result["commands_idle"]), flush=True)

            def during(seconds: float):
                probe = command_probe(args, env, port, api_port, setup["api_key"], seconds)
                return lambda: _probe_result(probe)

        result.update(run_load(f"ws://127.0.0.1:{port}/ocpp/", server, args, during))
        return result
    finally:
        for server in servers:
            server.terminate()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--traffic", choices=["fleet", "bare"], default="fleet")
    parser.add_argument("--mode", choices=["closed", "paced", "storm"], default="closed")
    parser.add_argument("--heartbeat", type=float, default=60.0, help="seconds between a fleet charger's Heartbeats")
    parser.add_argument(
        "--session-seconds", type=float, default=120.0, help="a fleet charger stops and starts this often"
    )
    parser.add_argument(
        "--probe-every", type=float, default=0.1, help="the probe charger's Heartbeat period (0 = none)"
    )
    parser.add_argument("--fresh", action="store_true", help="drop, create and migrate the CSMS database first")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE the CSMS database after the set-up")
    parser.add_argument(
        "--commands",
        type=float,
        default=0,
        help="seconds of idle command round trips through a second daphne (0 = none)",
    )
    parser.add_argument("--command-rate", type=float, default=5.0, help="command round trips per second")
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
    if len(results) == 2 and results["reference"].get("per_second") and results["csms"].get("per_second"):
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
        f"ramp {args.ramp:g}/s, traffic {args.traffic}, mode {args.mode}, "
        f"{'fresh' if args.fresh else 'reused'} database, "
        f"database {os.environ.get('DATABASE_URL', 'sqlite (var/bench.sqlite3)')}"
    )


if __name__ == "__main__":
    main()
