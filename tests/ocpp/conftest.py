"""End-to-end fixtures: real daphne processes on free ports (tests/e2e.py), sharing the
test database and Redis, and simulated chargers over real sockets."""
from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import sync_to_async

from chargepoints.services import charge_point_add
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from ocpp_consumer.simulator.v16 import SimulatedChargePoint16
from tests.e2e import daphne_start, processes_stop, server_env

PASSWORD = "test-charger-password"


class Servers:
    def __init__(self) -> None:
        self.processes: dict[tuple, tuple[subprocess.Popen, str]] = {}

    def get(self, name: str = "a", **env_overrides: str) -> str:
        """The base ws URL of a daphne process (started on first use) with these settings."""
        key = (name, tuple(sorted(env_overrides.items())))
        if key in self.processes and self.processes[key][0].poll() is None:
            return self.processes[key][1]
        process, port = daphne_start("config.asgi:application", env=server_env(**env_overrides))
        url = f"ws://127.0.0.1:{port}/ocpp/"
        self.processes[key] = (process, url)
        return url

    def kill(self, name: str = "a", **env_overrides: str) -> None:
        """SIGKILL a server: no disconnect handler runs, as when a process crashes."""
        process, _ = self.processes.pop((name, tuple(sorted(env_overrides.items()))))
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        processes_stop([process for process, _ in self.processes.values()])
        self.processes.clear()


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
