"""Connecting simulated chargers: subprotocol, Basic auth, reconnect with back-off."""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass, field
from urllib.parse import quote

import websockets

logger = logging.getLogger("simulator")


@dataclass
class ChargerConfig:
    identity: str
    base_url: str
    password: str | None = None
    protocol: str = "ocpp1.6"
    connectors: int = 2
    power_w: int = 11_000
    meter_interval: float = 10.0
    rfid_every: float = 0.0  # seconds between RFID-started sessions; 0 = never on its own
    id_tag: str = "SIM-RFID-0001"
    vendor: str = "CSMS-Sim"
    model: str = "Sim-AC22"
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/" + quote(self.identity, safe="")


async def connect(config: ChargerConfig, *, subprotocols: list[str] | None = None, **kwargs):
    """Open the WebSocket as a charger does: subprotocol offer and HTTP Basic auth."""
    headers = {}
    if config.password is not None:
        token = base64.b64encode(f"{config.identity}:{config.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return await websockets.connect(
        config.url,
        subprotocols=subprotocols or [config.protocol],
        additional_headers=headers,
        open_timeout=10,
        ping_interval=None,
        max_size=2**24,
        **kwargs,
    )


async def run_charger(config: ChargerConfig, stop: asyncio.Event | None = None) -> None:
    """Run one simulated charger until `stop` is set, reconnecting after failures and Reset."""
    from ocpp_consumer.simulator import SIMULATORS

    cls = SIMULATORS[config.protocol]
    stop = stop or asyncio.Event()
    state = None  # kept across reconnects: meter register, configuration keys
    backoff = 1.0
    while not stop.is_set():
        try:
            ws = await connect(config)
        except Exception as exc:
            logger.warning("%s: cannot connect (%s); retrying in %.0f s", config.identity, exc, backoff)
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, 60)
            continue
        backoff = 1.0
        charger = cls(config, ws, state=state)
        state = charger.state
        try:
            await charger.run_until(stop)
        except Exception as exc:
            logger.warning("%s: connection ended (%s)", config.identity, exc)
        finally:
            await ws.close()
        if not stop.is_set():
            await _sleep_or_stop(stop, 1.0 if charger.reset_requested else 5.0)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
