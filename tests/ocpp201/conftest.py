"""End-to-end fixtures for OCPP 2.0.1: the 1.6 suite's real daphne servers, plus a
simulated 2.0.1 station over a real socket."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from ocpp_consumer.simulator.runner import ChargerConfig, connect
from ocpp_consumer.simulator.v201 import SimState201, SimulatedChargePoint201
from tests.ocpp.conftest import PASSWORD, eventually, make_charge_point, server, servers  # noqa: F401


@asynccontextmanager
async def simulated201(url: str, identity: str, password: str | None = PASSWORD, *, boot: bool = True,
                       state: SimState201 | None = None, **config):
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
