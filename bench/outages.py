"""Outage drill: a two-process deployment through a Redis outage and a PostgreSQL outage.

    .venv/bin/python bench/outages.py                       # 20 chargers, 30 s outages
    .venv/bin/python bench/outages.py --chargers 50 --outage 60

What runs: two daphne processes on one PostgreSQL database and a throwaway redis-server
(stopped for the Redis outage and started again empty, as a restarted cache server is);
simulated chargers (`manage.py simulate_chargers`, half OCPP 1.6, half 2.0.1, half on each
process, Basic-auth passwords, a card per connector, RFID sessions every few seconds,
MeterValues every 2 s, state kept in a state file). Phases: warm-up, Redis outage,
recovery, PostgreSQL outage (connections refused and every open one terminated), recovery,
then the chargers stop their sessions and exit.

What it prints (and exits non-zero when a promise is broken):
- sockets closed by the server during the run (the simulators log "connection ended");
- transaction messages the simulators dropped after their last retry (lost data);
- transaction messages still queued in the simulators at the end (not delivered);
- sessions and meter samples stored, sessions left open;
- the commands sent through process B to chargers on process A during each phase.

Not part of the test suite (the tests in tests/ocpp_consumer/test_outages.py cause the same
outages for a few seconds each); needs PostgreSQL at --database-url and `redis-server`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PASSWORD = "drill-charger-password"
API_KEY = "drill-operator-api-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, what: str) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="drill-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
        )
        wait_port(self.port, self.process, "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


def admin_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return parts._replace(path="/postgres").geturl()


def db_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def setup_database(database_url: str, env: dict, chargers: list[tuple[str, str]]) -> None:
    admin, name = admin_url(database_url), db_name(database_url)
    psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(admin, f'CREATE DATABASE "{name}"')
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    setup = f"""
from accounts.models import ApiKey, Operator
from accounts.secrets import token_hash
from chargepoints.models import IdToken, Site
from chargepoints.services import charge_point_add
operator = Operator.objects.create(name="Drill", slug="drill")
ApiKey.objects.create(operator=operator, name="drill", prefix={API_KEY[:10]!r}, key_hash=token_hash({API_KEY!r}))
site = Site.objects.create(operator=operator, name="Drill site", latitude=52.37, longitude=4.89)
for identity, protocol in {chargers!r}:
    charge_point_add(identity=identity, password={PASSWORD!r}, site=site, connector_count=2)
    for connector in (1, 2):
        IdToken.objects.create(uid=f"CARD-{{identity}}-{{connector}}", operator=operator)
"""
    subprocess.run([PY, "manage.py", "shell", "-c", setup], env=env, cwd=ROOT, check=True)


def query(env: dict, code: str) -> dict:
    out = subprocess.run(
        [PY, "manage.py", "shell", "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def command(http: str, identity: str) -> str:
    """One command through process B's operator API: the answer's status, or the HTTP code."""
    request = urllib.request.Request(f"{http}/API/GetConfiguration/{identity}", headers={"X-API-Key": API_KEY})
    try:
        with urllib.request.urlopen(request, timeout=70) as answer:
            return "ok" if answer.status == 200 else str(answer.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except OSError as error:
        return type(error).__name__


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--outage", type=float, default=30.0, help="seconds each outage lasts")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds before, between and after outages")
    parser.add_argument(
        "--database-url", default=os.environ.get("DRILL_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/csms_drill")
    )
    args = parser.parse_args()
    if shutil.which("redis-server") is None or shutil.which("psql") is None:
        raise SystemExit("needs redis-server and psql")

    work = Path(tempfile.mkdtemp(prefix="drill-"))
    redis = Redis()
    redis.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        # Errors answered as in production (a 503 while the database is down), not with
        # the debug page.
        "DEBUG": "false",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": redis.url,
        "DB_POOL_TIMEOUT": "5",
        "OCPP_UNKNOWN_CHARGERS": "refuse",
        "PYTHONUNBUFFERED": "1",
    }
    half = args.chargers // 2
    groups = [  # (process, protocol, prefix, count)
        ("a", "ocpp1.6", "DRILL-A16-", half // 2 or 1),
        ("a", "ocpp2.0.1", "DRILL-A201-", half - half // 2 or 1),
        ("b", "ocpp1.6", "DRILL-B16-", half // 2 or 1),
        ("b", "ocpp2.0.1", "DRILL-B201-", args.chargers - half - half // 2 or 1),
    ]
    identities = [(f"{prefix}{n}", protocol) for _, protocol, prefix, count in groups for n in range(1, count + 1)]
    print(f"setting up {len(identities)} chargers in {db_name(args.database_url)}", flush=True)
    setup_database(args.database_url, env, identities)

    processes: list[subprocess.Popen] = []
    ports = {}
    for name in ("a", "b"):
        ports[name] = free_port()
        log = open(work / f"daphne-{name}.log", "w")
        process = subprocess.Popen(
            [str(Path(PY).parent / "daphne"), "-b", "127.0.0.1", "-p", str(ports[name]), "config.asgi:application"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        wait_port(ports[name], process, f"daphne {name}")
    simulators: list[tuple[subprocess.Popen, Path]] = []
    for name, protocol, prefix, count in groups:
        log_path = work / f"sim-{prefix.rstrip('-')}.log"
        simulators.append(
            (
                subprocess.Popen(
                    [PY, "manage.py", "simulate_chargers", "--url", f"ws://127.0.0.1:{ports[name]}/ocpp/"]
                    + ["--count", str(count), "--protocol", protocol, "--prefix", prefix, "--password", PASSWORD]
                    + ["--id-tag", "CARD-{identity}-{connector}", "--rfid-every", "8", "--meter-interval", "2"]
                    + ["--state-file", str(work / f"state-{prefix.rstrip('-')}.json")],
                    env=env,
                    cwd=ROOT,
                    stdout=open(log_path, "w"),
                    stderr=subprocess.STDOUT,
                ),
                log_path,
            )
        )
    http_b = f"http://127.0.0.1:{ports['b']}"
    probe = f"{groups[0][2]}1"  # a charger on process A, commanded through B
    commands: dict[str, list[str]] = {}

    def phase(label: str, seconds: float) -> None:
        print(f"{label}: {seconds:g} s", flush=True)
        answers = commands.setdefault(label, [])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            answers.append(command(http_b, probe))
            time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))

    try:
        phase("warm-up", args.settle)
        redis.stop()
        phase("redis down", args.outage)
        redis.start()
        phase("after redis", args.settle)
        admin, name = admin_url(args.database_url), db_name(args.database_url)
        psql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        psql(
            admin,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
            "AND pid <> pg_backend_pid()",
        )
        try:
            phase("database down", args.outage)
        finally:
            psql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        phase("after database", args.settle)
        # A clean exit: the chargers keep their open sessions in the state files; what is
        # still queued there was not delivered.
        for process, _ in simulators:
            process.send_signal(signal.SIGTERM)
        for process, _ in simulators:
            process.wait(timeout=60)
    finally:
        for process, _ in simulators:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()

    logs = "".join(path.read_text() for _, path in simulators)
    closed = len(re.findall(r"connection ended", logs))
    dropped = len(re.findall(r"dropping \w+ after", logs))
    queued = 0
    for state_file in work.glob("state-*.json"):
        data = json.loads(state_file.read_text())
        for charger in (data.get("chargers") or {}).values():
            queued += len((charger.get("state") or charger).get("queue", []))
    stored = query(
        {**env, "REDIS_URL": ""},
        "import json; from sessions_app.models import ChargeSession, MeterSample; "
        "print(json.dumps({'sessions': ChargeSession.objects.count(), "
        "'open': ChargeSession.objects.filter(status='active').count(), "
        "'samples': MeterSample.objects.count()}))",
    )
    print()
    print(f"chargers: {len(identities)} on two web processes; outages of {args.outage:g} s; logs in {work}")
    print(f"sockets closed by the server: {closed}")
    print(f"transaction messages dropped after their last retry: {dropped}")
    print(f"transaction messages still queued at the end: {queued}")
    print(f"sessions stored: {stored['sessions']} ({stored['open']} open at exit), meter samples: {stored['samples']}")
    for label, answers in commands.items():
        counts = {answer: answers.count(answer) for answer in sorted(set(answers))}
        print(f"commands through B to {probe} on A, {label}: {counts}")
    return 1 if closed or dropped or queued else 0


if __name__ == "__main__":
    sys.exit(main())
