"""End-to-end fixtures: real daphne processes on free ports, sharing the test database
and Redis, and simulated chargers over real sockets."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from chargepoints.services import charge_point_add
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from ocpp_consumer.simulator.v16 import SimulatedChargePoint16

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "test-charger-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Servers:
    def __init__(self) -> None:
        self.processes: dict[tuple, tuple[subprocess.Popen, str]] = {}

    def get(self, name: str = "a", **env_overrides: str) -> str:
        """The base ws URL of a daphne process (started on first use) with these settings."""
        key = (name, tuple(sorted(env_overrides.items())))
        if key in self.processes and self.processes[key][0].poll() is None:
            return self.processes[key][1]
        port = _free_port()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.ocpp.server_settings",
               "DATABASE_URL": _database_url(), "PYTHONPATH": str(ROOT), **env_overrides}
        if not settings.EMBEDDED_REDIS:
            env["REDIS_URL"] = settings.REDIS_URL
        log = open(ROOT / "var" / f"e2e-daphne-{port}.log", "w")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited; see var/e2e-daphne-{port}.log")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/ocpp/"
        self.processes[key] = (process, url)
        return url

    def kill(self, name: str = "a", **env_overrides: str) -> None:
        """SIGKILL a server: no disconnect handler runs, as when a process crashes."""
        process, _ = self.processes.pop((name, tuple(sorted(env_overrides.items()))))
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process, _ in self.processes.values():
            process.terminate()
        for process, _ in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def servers(django_db_setup, django_db_blocker):
    running = Servers()
    yield running
    running.stop()


@pytest.fixture
def server(servers, transactional_db) -> str:
    return servers.get("a")


@pytest.fixture
def make_charge_point(transactional_db):
    def make(identity: str | None = None, password: str = PASSWORD, connectors: int = 2, **fields):
        identity = identity or f"E2E-{uuid.uuid4().hex[:10]}"
        return charge_point_add(identity=identity, password=password, connector_count=connectors, **fields)

    return make


@asynccontextmanager
async def simulated(url: str, identity: str, password: str | None = PASSWORD, *, boot: bool = True, **config):
    """A simulated 1.6 charger connected to `url`, its receive loop running."""
    cfg = ChargerConfig(identity=identity, base_url=url, password=password, **config)
    ws = await connect(cfg)
    charger = SimulatedChargePoint16(cfg, ws)
    receiver = asyncio.get_running_loop().create_task(charger.start())
    try:
        if boot:
            assert await charger.boot() == "Accepted"
        yield charger
    finally:
        receiver.cancel()
        for task in list(charger._tasks):
            task.cancel()
        await ws.close()


async def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Poll a sync (ORM) check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await sync_to_async(check)()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


@pytest.fixture(autouse=True)
def _close_thread_connections():
    """ORM calls made through sync_to_async run in asgiref's single worker thread; close its
    connections after each test so PostgreSQL can drop the test database at the end."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
