"""A simulated OCPP 1.6J charger.

Boots, sends heartbeats and status changes, charges (RFID-started or remotely started)
with realistic MeterValues, and answers every 1.6 command a central system sends: Reset
ends the sessions (HardReset/SoftReset) and reconnects, GetConfiguration serves a real key
store, ChangeConfiguration changes it, UnlockConnector ends a session, and charging
profiles lower the simulated power.

Open transactions and the transaction messages not yet answered live in `SimState`, so a
reconnect continues the sessions (base.py has the queue). A StartTransaction that is not
answered yet gets a local (negative) transaction id; when the answer comes, the central
system's id replaces it in the transaction and in every message queued behind it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import asdict, dataclass, field

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, Reason

from ocpp_consumer import library
from ocpp_consumer.simulator import persist
from ocpp_consumer.simulator.base import PHASES, VOLTAGE, ProfileEntry, SimulatorBase, utc_now

logger = logging.getLogger("simulator")


# Used when a state from an older run has no such key.
DEFAULT_MESSAGE_ATTEMPTS = 3
DEFAULT_MESSAGE_RETRY_INTERVAL_S = 10


@dataclass
class Transaction:
    connector_id: int
    transaction_id: int  # the central system's id, or a negative local one until it answered
    id_tag: str
    meter_start: int
    ends_at: float | None = None  # wall-clock seconds when the (RFID) driver stops it
    authorised_locally: bool = False  # it went on before its StartTransaction was answered


@dataclass
class SimState:
    """What survives a reconnect (a Reset): meter registers, keys, lists, profiles, open
    transactions and the transaction messages not yet answered."""

    meters: dict[int, float] = field(default_factory=dict)
    soc: dict[int, float] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)
    configuration: dict[str, dict] = field(default_factory=dict)
    local_list_version: int = 0
    local_list: dict[str, dict] = field(default_factory=dict)
    profiles: dict[int, dict] = field(default_factory=dict)
    reservations: dict[int, int] = field(default_factory=dict)  # reservation id -> connector
    transactions: dict[int, Transaction] = field(default_factory=dict)  # connector -> open transaction
    queue: list = field(default_factory=list)  # call.StartTransaction/MeterValues/StopTransaction, oldest first
    queue_attempts: int = 0  # failed attempts of the queue head
    pending_starts: list[int] = field(default_factory=list)  # local ids of the queued StartTransactions, in order
    last_local_id: int = 0
    offline: bool = False  # not kept in a state file: a new process starts online

    def new_local_id(self) -> int:
        self.last_local_id -= 1
        return self.last_local_id

    def to_json(self) -> dict:
        return {
            "meters": persist.str_keys(self.meters),
            "soc": persist.str_keys(self.soc),
            "status": persist.str_keys(self.status),
            "configuration": self.configuration,
            "local_list_version": self.local_list_version,
            "local_list": self.local_list,
            "profiles": persist.str_keys(self.profiles),
            "reservations": persist.str_keys(self.reservations),
            "transactions": [asdict(t) for t in self.transactions.values()],
            "queue": persist.calls_to_json(self.queue),
            "queue_attempts": self.queue_attempts,
            "pending_starts": self.pending_starts,
            "last_local_id": self.last_local_id,
        }

    @classmethod
    def from_json(cls, data: dict) -> SimState:
        transactions = [Transaction(**t) for t in data.get("transactions", [])]
        return cls(
            meters=persist.int_keys(data.get("meters", {})),
            soc=persist.int_keys(data.get("soc", {})),
            status=persist.int_keys(data.get("status", {})),
            configuration=data.get("configuration", {}),
            local_list_version=data.get("local_list_version", 0),
            local_list=data.get("local_list", {}),
            profiles=persist.int_keys(data.get("profiles", {})),
            reservations=persist.int_keys(data.get("reservations", {})),
            transactions={t.connector_id: t for t in transactions},
            queue=persist.calls_from_json(data.get("queue", []), call),
            queue_attempts=data.get("queue_attempts", 0),
            pending_starts=list(data.get("pending_starts", [])),
            last_local_id=data.get("last_local_id", 0),
        )


def stop_request(transaction: Transaction, meter_wh: float, timestamp: str, reason: str) -> call.StopTransaction:
    """The StopTransaction of `transaction`, with the final register reading as its data."""
    return call.StopTransaction(
        meter_stop=int(meter_wh),
        timestamp=timestamp,
        transaction_id=transaction.transaction_id,
        reason=reason,
        id_tag=transaction.id_tag,
        transaction_data=[
            {
                "timestamp": timestamp,
                "sampled_value": [
                    {
                        "value": str(int(meter_wh)),
                        "context": "Transaction.End",
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    }
                ],
            }
        ],
    )


def default_configuration(config) -> dict[str, dict]:
    def key(value, readonly=False):
        return {"value": str(value), "readonly": readonly}

    return {
        "HeartbeatInterval": key(300),
        "MeterValueSampleInterval": key(int(config.meter_interval)),
        "MeterValuesSampledData": key("Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"),
        "ClockAlignedDataInterval": key(0),
        "ConnectionTimeOut": key(60),
        "AuthorizeRemoteTxRequests": key("false"),
        "LocalAuthorizeOffline": key("true"),
        "LocalAuthListEnabled": key("true"),
        "LocalAuthListMaxLength": key(100, True),
        "NumberOfConnectors": key(config.connectors, True),
        "StopTransactionOnEVSideDisconnect": key("true"),
        "TransactionMessageAttempts": key(DEFAULT_MESSAGE_ATTEMPTS),
        "TransactionMessageRetryInterval": key(DEFAULT_MESSAGE_RETRY_INTERVAL_S),
        "ChargeProfileMaxStackLevel": key(8, True),
        "ChargingScheduleAllowedChargingRateUnit": key("Current,Power", True),
        "SupportedFeatureProfiles": key(
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger", True
        ),
    }


class SimulatedChargePoint16(SimulatorBase, ChargePoint):
    results = call_result
    state_class = SimState

    def __init__(self, config, connection, state: SimState | None = None) -> None:
        super().__init__(config.identity, connection, response_timeout=30)
        self._start_state(config, state or SimState())
        if not self.state.configuration:
            self.state.configuration = default_configuration(config)

    @property
    def transactions(self) -> dict[int, Transaction]:
        return self.state.transactions

    @staticmethod
    def end_transactions_at_boot(state: SimState, reason: str, timestamp: str) -> None:
        """A reboot (`Reason.reboot`, or `Reason.power_loss` after a crash) ended the open
        transactions: queue their StopTransaction, sent after the next BootNotification."""
        assert reason in (Reason.reboot, Reason.power_loss), reason
        for connector_id, transaction in sorted(state.transactions.items()):
            meter = state.meters.get(connector_id, transaction.meter_start)
            state.queue.append(stop_request(transaction, meter, timestamp, reason))
            state.status[connector_id] = "Available"
        state.transactions.clear()

    # --- helpers ---------------------------------------------------------------------

    def config_value(self, key: str) -> str:
        return self.state.configuration[key]["value"]

    def config_number(self, key: str, default: int) -> float:
        entry = self.state.configuration.get(key)
        try:
            return float(entry["value"]) if entry else default
        except ValueError:
            return default

    def message_attempts(self) -> int:
        return max(int(self.config_number("TransactionMessageAttempts", DEFAULT_MESSAGE_ATTEMPTS)), 1)

    def message_attempt_interval(self) -> float:
        return max(self.config_number("TransactionMessageRetryInterval", DEFAULT_MESSAGE_RETRY_INTERVAL_S), 0.0)

    def delivered(self, request, response) -> None:
        if isinstance(request, call.StartTransaction):
            self._start_answered(self.state.pending_starts.pop(0), response)

    def discarded(self, request) -> None:
        if isinstance(request, call.StartTransaction):
            # Nothing queued for this transaction can be delivered without its id.
            local_id = self.state.pending_starts.pop(0)
            self.state.queue[:] = [r for r in self.state.queue if getattr(r, "transaction_id", None) != local_id]

    def _start_answered(self, local_id: int, response: call_result.StartTransaction) -> None:
        """The central system's id replaces the local one everywhere; a refused id tag ends
        the transaction (if it is still going) as DeAuthorized."""
        for request in self.state.queue:
            if getattr(request, "transaction_id", None) == local_id:
                request.transaction_id = response.transaction_id
        for transaction in self.state.transactions.values():
            if transaction.transaction_id == local_id:
                transaction.transaction_id = response.transaction_id
                if transaction.authorised_locally and response.id_tag_info["status"] != "Accepted":
                    # Refused only now that the queued start got through: stop as the charger would.
                    self.spawn(self.stop_transaction(transaction.connector_id, Reason.de_authorized))

    def profile_entries(self) -> list[ProfileEntry]:
        entries = []
        for stored in self.state.profiles.values():
            profile = stored["cs_charging_profiles"]
            transaction_id = profile.get("transaction_id")
            entries.append(
                ProfileEntry(
                    target=stored["connector_id"],
                    purpose=profile.get("charging_profile_purpose", ""),
                    stack_level=profile.get("stack_level", 0),
                    transaction_id=None if transaction_id is None else str(transaction_id),
                    schedule=profile["charging_schedule"],
                )
            )
        return entries

    def transaction_id_on(self, connector_id: int) -> str | None:
        transaction = self.transactions.get(connector_id)
        return None if transaction is None else str(transaction.transaction_id)

    # --- the charger's own messages ------------------------------------------------------

    async def boot(self) -> str:
        response = await self.call(
            call.BootNotification(
                charge_point_vendor=self.config.vendor,
                charge_point_model=self.config.model,
                charge_point_serial_number=f"SN-{self.config.identity}",
                firmware_version="1.0.0",
            )
        )
        self.boot_status = response.status
        if response.status == "Accepted":
            self.state.configuration["HeartbeatInterval"]["value"] = str(response.interval)
        return response.status

    async def heartbeat(self) -> str:
        return (await self.call(call.Heartbeat())).current_time

    async def send_status(self, connector_id: int, status: str, error_code: str = "NoError"):
        """Report a status; kept in the state and reported again after boot when offline."""
        if connector_id:
            self.state.status[connector_id] = status
        return await self.call_unless_lost(
            call.StatusNotification(
                connector_id=connector_id, error_code=error_code, status=status, timestamp=utc_now()
            )
        )

    async def authorize(self, id_tag: str) -> dict:
        return (await self.call(call.Authorize(id_tag=id_tag))).id_tag_info

    async def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        *,
        timestamp: str | None = None,
        meter_loop: bool = True,
        ends_at: float | None = None,
    ) -> call_result.StartTransaction | None:
        """Start charging and send StartTransaction. Returns its answer, or None while it is
        queued (offline): the transaction then goes on under a local id, as the charger
        authorises locally."""
        await self.send_status(connector_id, "Preparing")
        meter_start = int(self.state.meters[connector_id])
        local_id = self.state.new_local_id()
        transaction = Transaction(connector_id, local_id, id_tag, meter_start, ends_at)
        self.transactions[connector_id] = transaction
        self.state.pending_starts.append(local_id)
        # A start on a reserved connector names (and ends) its reservation.
        reservation_id = next((r for r, c in self.state.reservations.items() if c == connector_id), None)
        self.state.reservations.pop(reservation_id, None)
        response = await self.send_transaction_message(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=timestamp or utc_now(),
                reservation_id=reservation_id,
            )
        )
        if response is None:
            transaction.authorised_locally = True
        elif response.id_tag_info["status"] != "Accepted":
            await self.stop_transaction(connector_id, Reason.de_authorized)
            return response
        self.state.soc.setdefault(connector_id, float(random.randint(15, 60)))
        await self.send_status(connector_id, "Charging")
        if meter_loop:
            self.meter_tasks[connector_id] = self.spawn(self._meter_loop(connector_id))
        return response

    async def stop_transaction(self, connector_id: int, reason: str = "Local") -> call_result.StopTransaction | None:
        """End the transaction on `connector_id`; the StopTransaction's answer, or None when
        there was none or the message is queued."""
        transaction = self.transactions.pop(connector_id, None)
        task = self.meter_tasks.pop(connector_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if transaction is None:
            return None
        await self.send_status(connector_id, "Finishing")
        response = await self.send_transaction_message(
            stop_request(transaction, self.state.meters[connector_id], utc_now(), reason)
        )
        await self.send_status(connector_id, "Available")
        return response

    def sampled_values(self, connector_id: int, context: str = "Sample.Periodic") -> list[dict]:
        """A realistic 1.6 sample: energy, power, the current of each phase (what the car
        draws under the profiles in force), voltage and SoC."""
        charging = connector_id in self.transactions
        amps = self.draw_amps(connector_id) if charging else [0.0] * PHASES
        power = sum(amps) * VOLTAGE * random.uniform(0.97, 1.0)
        values = [
            {
                "value": str(int(self.state.meters[connector_id])),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            },
            {"value": f"{power:.1f}", "context": context, "measurand": "Power.Active.Import", "unit": "W"},
        ]
        for phase, current in zip(("L1", "L2", "L3"), amps):
            values.append(
                {
                    "value": f"{current:.2f}",
                    "context": context,
                    "measurand": "Current.Import",
                    "phase": phase,
                    "unit": "A",
                }
            )
        values.append(
            {
                "value": f"{VOLTAGE + random.uniform(-2, 2):.1f}",
                "context": context,
                "measurand": "Voltage",
                "phase": "L1-N",
                "unit": "V",
            }
        )
        values.append(
            {
                "value": str(int(self.state.soc.get(connector_id, 50))),
                "context": context,
                "measurand": "SoC",
                "location": "EV",
                "unit": "Percent",
            }
        )
        return values

    async def send_meter_values(self, connector_id: int, context: str = "Sample.Periodic"):
        """MeterValues of the connector; those of a transaction (not triggered ones) are
        transaction messages and go through the queue."""
        transaction = self.transactions.get(connector_id)
        request = call.MeterValues(
            connector_id=connector_id,
            transaction_id=transaction.transaction_id if transaction else None,
            meter_value=[{"timestamp": utc_now(), "sampled_value": self.sampled_values(connector_id, context)}],
        )
        if transaction is None or context == "Trigger":
            return await self.call_unless_lost(request)
        return await self.send_transaction_message(request)

    async def _meter_loop(self, connector_id: int) -> None:
        while connector_id in self.transactions:
            # The key holds whole seconds; a sub-second --meter-interval (tests) stays as given.
            configured = float(self.config_value("MeterValueSampleInterval") or 0)
            interval = configured if configured >= 1 else self.config.meter_interval
            await asyncio.sleep(interval)
            power = self.draw_w(connector_id)
            self.state.meters[connector_id] += power * interval / 3600
            self.state.soc[connector_id] = min(
                100.0, self.state.soc.get(connector_id, 50) + power * interval / 3600 / 600
            )
            await self.send_meter_values(connector_id)

    # --- autonomous life -----------------------------------------------------------------

    async def run_until(self, stop: asyncio.Event) -> None:
        """Receive loop plus boot, status, heartbeats and (optionally) RFID sessions."""
        receiver = self.spawn(self.start())
        try:
            status = await self.boot()
            while status != "Accepted":
                await asyncio.sleep(int(self.config_value("HeartbeatInterval")) if status == "Rejected" else 10)
                status = await self.boot()
            await self.deliver_queue()  # what the previous connection (or run) left unanswered
            await self.send_status(0, "Available")
            for connector_id in range(1, self.config.connectors + 1):
                await self.send_status(connector_id, self.state.status.get(connector_id, "Available"))
            for connector_id in list(self.transactions):  # not rebooted: the sessions go on
                self.meter_tasks[connector_id] = self.spawn(self._meter_loop(connector_id))
            self.spawn(self._heartbeat_loop())
            self.spawn(self._planned_stop_loop())
            if self.config.rfid_every > 0:
                self.spawn(self._rfid_loop())
            stopper = self.spawn(stop.wait())
            await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(max(int(self.config_value("HeartbeatInterval")), 1))
            await self.heartbeat()

    async def _rfid_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.rfid_every * random.uniform(0.5, 1.5))
            free = [
                c
                for c in range(1, self.config.connectors + 1)
                if c not in self.transactions and self.state.status.get(c) == "Available"
            ]
            if not free:
                continue
            connector_id = random.choice(free)
            tag = self.config.tag_for(connector_id)
            info = await self.authorize(tag)
            if info["status"] != "Accepted":
                continue
            ends_at = time.time() + self.config.rfid_every * random.uniform(0.3, 0.8)
            await self.start_transaction(connector_id, tag, ends_at=ends_at)

    # --- commands from the central system ----------------------------------------------

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **kwargs):
        self._note("ChangeAvailability")
        status = "Available" if type == "Operative" else "Unavailable"
        targets = range(1, self.config.connectors + 1) if connector_id == 0 else [connector_id]
        if any(c in self.transactions for c in targets):
            return call_result.ChangeAvailability(status="Scheduled")
        for c in targets:
            self.spawn(self.send_status(c, status))
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **kwargs):
        self._note("ChangeConfiguration")
        entry = self.state.configuration.get(key)
        if entry is None:
            return call_result.ChangeConfiguration(status="NotSupported")
        if entry["readonly"]:
            return call_result.ChangeConfiguration(status="Rejected")
        entry["value"] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **kwargs,
    ):
        self._note("ClearChargingProfile")
        doomed = [
            pid
            for pid, p in self.state.profiles.items()
            if (id is None or pid == id)
            and (connector_id is None or p["connector_id"] == connector_id)
            and (
                charging_profile_purpose is None
                or p["cs_charging_profiles"]["charging_profile_purpose"] == charging_profile_purpose
            )
            and (stack_level is None or p["cs_charging_profiles"]["stack_level"] == stack_level)
        ]
        for pid in doomed:
            del self.state.profiles[pid]
        return call_result.ClearChargingProfile(status="Accepted" if doomed else "Unknown")

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **kwargs):
        self._note("GetConfiguration")
        wanted = key or list(self.state.configuration)
        known = [
            {
                "key": k,
                "readonly": self.state.configuration[k]["readonly"],
                "value": self.state.configuration[k]["value"],
            }
            for k in wanted
            if k in self.state.configuration
        ]
        unknown = [k for k in wanted if k not in self.state.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **kwargs):
        self._note("GetDiagnostics")
        return call_result.GetDiagnostics(file_name=f"diagnostics-{self.config.identity}.log")

    @after(Action.get_diagnostics)
    async def after_get_diagnostics(self, **kwargs):
        for status in ("Uploading", "Uploaded"):
            await asyncio.sleep(0.2)
            await self.call(call.DiagnosticsStatusNotification(status=status))

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs):
        self._note("GetLocalListVersion")
        return call_result.GetLocalListVersion(list_version=self.state.local_list_version)

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None, **kwargs):
        self._note("RemoteStartTransaction")
        connector_id = connector_id or next(
            (c for c in range(1, self.config.connectors + 1) if c not in self.transactions), None
        )
        if connector_id is None or connector_id in self.transactions or connector_id > self.config.connectors:
            return call_result.RemoteStartTransaction(status="Rejected")
        profile = kwargs.get("charging_profile")
        if profile:
            self.state.profiles[profile["charging_profile_id"]] = {
                "connector_id": connector_id,
                "cs_charging_profiles": profile,
            }
        self.spawn(self.start_transaction(connector_id, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **kwargs):
        self._note("RemoteStopTransaction")
        for connector_id, transaction in self.transactions.items():
            if transaction.transaction_id == transaction_id:
                self.spawn(self.stop_transaction(connector_id, "Remote"))
                return call_result.RemoteStopTransaction(status="Accepted")
        return call_result.RemoteStopTransaction(status="Rejected")

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **kwargs):
        self._note("ReserveNow")
        if connector_id in self.transactions or self.state.status.get(connector_id) not in ("Available", "Reserved"):
            return call_result.ReserveNow(status="Occupied")
        self.state.reservations[reservation_id] = connector_id
        self.spawn(self.send_status(connector_id, "Reserved"))
        return call_result.ReserveNow(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type: str, **kwargs):
        self._note("Reset")
        self.reset_requested = type
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str, **kwargs):
        reason = Reason.hard_reset if type == "Hard" else Reason.soft_reset
        for connector_id in list(self.transactions):
            await self.stop_transaction(connector_id, reason)
        await asyncio.sleep(0.1)
        await library.connection_of(self).close()  # the runner reconnects and boots again

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version: int, update_type: str, **kwargs):
        self._note("SendLocalList")
        entries = kwargs.get("local_authorization_list") or []
        if update_type == "Full":
            self.state.local_list = {}
        for entry in entries:
            if entry.get("id_tag_info"):
                self.state.local_list[entry["id_tag"]] = entry["id_tag_info"]
            else:
                self.state.local_list.pop(entry["id_tag"], None)
        self.state.local_list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict, **kwargs):
        self._note("SetChargingProfile")
        if connector_id > self.config.connectors:
            return call_result.SetChargingProfile(status="Rejected")
        self.state.profiles[cs_charging_profiles["charging_profile_id"]] = {
            "connector_id": connector_id,
            "cs_charging_profiles": cs_charging_profiles,
        }
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int, **kwargs):
        self._note("GetCompositeSchedule")
        limit = round(self.power_limit_w(connector_id or 1), 1)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=utc_now(),
            charging_schedule={
                "duration": duration,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            },
        )

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **kwargs):
        self._note("TriggerMessage")
        connector_id = kwargs.get("connector_id")
        senders = {
            "BootNotification": lambda: self.boot(),
            "Heartbeat": lambda: self.heartbeat(),
            "MeterValues": lambda: self.send_meter_values(connector_id or 1, "Trigger"),
            "StatusNotification": lambda: self.send_status(
                connector_id or 0, self.state.status.get(connector_id, "Available") if connector_id else "Available"
            ),
            "DiagnosticsStatusNotification": lambda: self.call(call.DiagnosticsStatusNotification(status="Idle")),
            "FirmwareStatusNotification": lambda: self.call(call.FirmwareStatusNotification(status="Idle")),
        }
        sender = senders.get(requested_message)
        if sender is None:
            return call_result.TriggerMessage(status="NotImplemented")
        self.send_later(sender)
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **kwargs):
        self._note("UnlockConnector")
        if connector_id < 1 or connector_id > self.config.connectors:
            return call_result.UnlockConnector(status="NotSupported")
        if connector_id in self.transactions:
            self.spawn(self.stop_transaction(connector_id, "UnlockCommand"))
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **kwargs):
        self._note("UpdateFirmware")
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    async def after_update_firmware(self, **kwargs):
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await asyncio.sleep(0.2)
            await self.call(call.FirmwareStatusNotification(status=status))
