"""Connecting simulated chargers: subprotocol, Basic auth, reconnect with back-off; and
running a set of them with their states kept in a state file (persist.py), so that a
restart of the simulator is a reboot of its chargers."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import websockets

from ocpp_consumer.simulator import persist

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
    # The RFID card presented; "{identity}" and "{connector}" are filled in, so each charger
    # (and connector) can have a card of its own (one card cannot charge twice at once).
    id_tag: str = "SIM-RFID-0001"
    vendor: str = "CSMS-Sim"
    model: str = "Sim-AC22"
    extra: dict = field(default_factory=dict)

    def tag_for(self, connector_id: int) -> str:
        return self.id_tag.replace("{identity}", self.identity).replace("{connector}", str(connector_id))

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


# How often a running simulator writes its state file (when something changed).
SAVE_EVERY_S = 1.0


async def run_charger(config: ChargerConfig, stop: asyncio.Event | None = None, *, state=None) -> None:
    """Run one simulated charger until `stop` is set, reconnecting after failures and Reset.
    `state` (the charger's state class) is kept across reconnects: meters, configuration,
    open transactions, queued transaction messages; a fresh one when None."""
    from ocpp_consumer.simulator import SIMULATORS

    cls = SIMULATORS[config.protocol]
    stop = stop or asyncio.Event()
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


class StateKeeper:
    """The states of a simulator run's chargers, read from a state file and written back to
    it. Reading is the reboot: the open transactions of the saved chargers end with reason
    Reboot (the previous run exited cleanly) or PowerLoss (it did not), queued for delivery
    after the first BootNotification. Chargers in the file that this run does not simulate
    are kept in it unchanged."""

    def __init__(self, path: Path, configs: list[ChargerConfig]) -> None:
        from ocpp_consumer.simulator import SIMULATORS

        self.path = path
        self.protocols = {config.identity: config.protocol for config in configs}
        self.states: dict[str, object] = {}
        self.others: dict[str, dict] = {}
        self._written: str | None = None
        saved = persist.read(path)
        for identity, entry in (saved.chargers if saved else {}).items():
            protocol = self.protocols.get(identity)
            if protocol is None:
                self.others[identity] = entry
            elif entry.get("protocol") != protocol:
                logger.warning("%s: saved as %s, now %s: starting afresh", identity, entry.get("protocol"), protocol)
            else:
                self.states[identity] = self._rebooted(SIMULATORS[protocol], identity, entry, saved)
        for identity, protocol in self.protocols.items():
            self.states.setdefault(identity, SIMULATORS[protocol].state_class())

    def _rebooted(self, cls, identity: str, entry: dict, saved: persist.SavedRun):
        try:
            state = cls.state_class.from_json(entry["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise persist.StateFileError(f"{self.path}: the state of {identity} is not readable ({exc!r})") from exc
        reason = "Reboot" if saved.clean_exit else "PowerLoss"
        if state.transactions:
            logger.info("%s: rebooted (%s): ending %d transaction(s)", identity, reason, len(state.transactions))
        cls.end_transactions_at_boot(state, reason, saved.saved_at)
        return state

    def save(self, *, clean_exit: bool = False) -> None:
        """Write the file when anything changed since the last write."""
        chargers = dict(self.others)
        for identity, state in self.states.items():
            chargers[identity] = {"protocol": self.protocols[identity], "state": state.to_json()}
        text = json.dumps([chargers, clean_exit], sort_keys=True)
        if text != self._written:
            persist.write(self.path, chargers, clean_exit=clean_exit)
            self._written = text

    async def save_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.save()


async def run_chargers(configs: list[ChargerConfig], stop: asyncio.Event, keeper: StateKeeper | None = None) -> None:
    """Run the chargers until `stop` is set; with a keeper, from its states, writing them
    while running and, marked as a clean exit, once all chargers stopped."""
    states = keeper.states if keeper else {}
    runs = asyncio.gather(*(run_charger(config, stop, state=states.get(config.identity)) for config in configs))
    if keeper is None:
        await runs
        return
    keeper.save()  # from now on the file says the run has not ended cleanly
    saver = asyncio.get_running_loop().create_task(keeper.save_every(SAVE_EVERY_S))
    try:
        await runs
    finally:
        saver.cancel()
        keeper.save(clean_exit=stop.is_set())
