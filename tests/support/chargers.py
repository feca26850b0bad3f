"""End-to-end helpers: real daphne processes on free ports (tests/support/e2e.py), sharing
the test database and Redis, simulated 1.6 and 2.0.1 chargers over real sockets, and a wait
that fails loudly. The fixtures built on them are in tests/support/fixtures.py."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from contextlib import asynccontextmanager

from asgiref.sync import sync_to_async

from chargepoints.services import charge_point_add
from ocpp_consumer.simulator.runner import ChargerConfig, connect
from ocpp_consumer.simulator.v16 import SimState, SimulatedChargePoint16
from ocpp_consumer.simulator.v201 import SimState201, SimulatedChargePoint201
from tests.support.e2e import daphne_start, processes_stop, server_env

PASSWORD = "test-charger-password"


class Servers:
    def __init__(self) -> None:
        self.processes: dict[tuple, tuple[subprocess.Popen, str]] = {}
        self.killed_ports: dict[tuple, int] = {}

    def get(self, name: str = "a", **env_overrides: str) -> str:
        """The base ws URL of a daphne process (started on first use) with these settings.
        One started again after kill() listens on its old port, as a restarted server does."""
        key = (name, tuple(sorted(env_overrides.items())))
        if key in self.processes and self.processes[key][0].poll() is None:
            return self.processes[key][1]
        process, port = daphne_start(
            "config.asgi:application", env=server_env(**env_overrides), port=self.killed_ports.pop(key, None)
        )
        url = f"ws://127.0.0.1:{port}/ocpp/"
        self.processes[key] = (process, url)
        return url

    def freeze(self, name: str = "a", **env_overrides: str) -> None:
        """SIGSTOP a server: its sockets stay open and nothing is answered (a hung process)."""
        process, _ = self.processes[(name, tuple(sorted(env_overrides.items())))]
        os.kill(process.pid, signal.SIGSTOP)

    def kill(self, name: str = "a", **env_overrides: str) -> None:
        """SIGKILL a server: no disconnect handler runs, as when a process crashes."""
        key = (name, tuple(sorted(env_overrides.items())))
        process, url = self.processes.pop(key)
        process.kill()
        process.wait(timeout=10)
        self.killed_ports[key] = int(url.split(":")[2].split("/")[0])

    def stop(self) -> None:
        for process, _ in self.processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)  # a frozen one must see the SIGTERM
        processes_stop([process for process, _ in self.processes.values()])
        self.processes.clear()


def charge_point_add_for_e2e(identity: str | None = None, password: str = PASSWORD, connectors: int = 2, **fields):
    """A charger the simulated chargers can log in as (a random identity unless given)."""
    identity = identity or f"E2E-{uuid.uuid4().hex[:10]}"
    return charge_point_add(identity=identity, password=password, connector_count=connectors, **fields)


@asynccontextmanager
async def simulated(
    url: str,
    identity: str,
    password: str | None = PASSWORD,
    *,
    boot: bool = True,
    state: SimState | None = None,
    **config,
):
    """A simulated 1.6 charger connected to `url`, its receive loop running; `state` is the
    one a previous connection left (open transactions, queued messages)."""
    cfg = ChargerConfig(identity=identity, base_url=url, password=password, **config)
    ws = await connect(cfg)
    charger = SimulatedChargePoint16(cfg, ws, state=state)
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


class WaitTimedOut(AssertionError):
    """A condition a test waited for never came true."""


async def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Poll a sync (ORM) check until it returns something truthy, and return that. Fails the
    test (WaitTimedOut) when the check is still falsy after `timeout` seconds, so a wait
    never passes silently."""
    deadline = time.monotonic() + timeout
    while True:
        result = await sync_to_async(check)()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimedOut(f"still {result!r} after {timeout} s: {getattr(check, '__qualname__', check)}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def simulated201(
    url: str,
    identity: str,
    password: str | None = PASSWORD,
    *,
    boot: bool = True,
    state: SimState201 | None = None,
    **config,
):
    """A simulated 2.0.1 station connected to `url`, its receive loop running."""
    cfg = ChargerConfig(identity=identity, base_url=url, password=password, protocol="ocpp2.0.1", **config)
    ws = await connect(cfg)
    station = SimulatedChargePoint201(cfg, ws, state=state)
    receiver = asyncio.get_running_loop().create_task(station.start())
    try:
        if boot:
            assert await station.boot() == "Accepted"
        yield station
    finally:
        receiver.cancel()
        for task in list(station._tasks):
            task.cancel()
        await ws.close()
