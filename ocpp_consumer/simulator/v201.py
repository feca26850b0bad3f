"""A simulated OCPP 2.0.1 charging station, beside the 1.6 one and run by the same runner.

It boots, reports its EVSEs, runs transactions as TransactionEvents with a rising seqNo
(Started, periodic Updated with meter values, charging-state changes, Ended with a stop
reason), keeps a device model that GetVariables/SetVariables/GetBaseReport/GetReport
work on, and answers every command the CSMS sends. While offline (`go_offline()`, or a
connection that closed) TransactionEvents are queued with offline=true and their original
timestamps, and replayed in order after the next boot, as a real station must; one the
CSMS fails (a CALLERROR) is tried again per MessageAttempts/MessageAttemptInterval
(base.py has the queue). Open transactions and the queue live in `SimState201`, so a
reconnect continues the sessions.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import asdict, dataclass, field

from ocpp.exceptions import OccurrenceConstraintViolationError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action, ReasonEnumType, TriggerReasonEnumType

from ocpp_consumer import library
from ocpp_consumer.simulator import persist
from ocpp_consumer.simulator.base import PHASES, VOLTAGE, ProfileEntry, SimulatorBase, utc_now

logger = logging.getLogger("simulator")


@dataclass
class Transaction201:
    evse_id: int
    transaction_id: str
    id_token: dict | None
    remote_start_id: int | None = None
    seq_no: int = 0
    charging_state: str = "EVConnected"
    ends_at: float | None = None  # wall-clock seconds when the (RFID) driver stops it

    def next_seq_no(self) -> int:
        value = self.seq_no
        self.seq_no += 1
        return value


@dataclass
class SimState201:
    """What survives a reconnect: meters, device model, lists, profiles, open transactions
    and the queue of TransactionEvents not yet delivered."""

    meters: dict[int, float] = field(default_factory=dict)
    soc: dict[int, float] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)
    variables: dict[tuple[str, str, str], dict] = field(default_factory=dict)
    local_list_version: int = 0
    local_list: dict[str, dict] = field(default_factory=dict)
    profiles: dict[int, dict] = field(default_factory=dict)  # profile id -> {"evse_id", "profile"}
    reservations: dict[int, int] = field(default_factory=dict)  # reservation id -> evse id
    transactions: dict[int, Transaction201] = field(default_factory=dict)  # evse id -> transaction
    queue: list = field(default_factory=list)  # call.TransactionEvent, oldest first
    queue_attempts: int = 0  # failed attempts of the queue head
    offline: bool = False  # not kept in a state file: a new process starts online
    costs: dict[str, float] = field(default_factory=dict)  # CostUpdated per transaction

    def to_json(self) -> dict:
        return {
            "meters": persist.str_keys(self.meters),
            "soc": persist.str_keys(self.soc),
            "status": persist.str_keys(self.status),
            "variables": [
                {"component": c, "name": n, "instance": i, **entry} for (c, n, i), entry in self.variables.items()
            ],
            "local_list_version": self.local_list_version,
            "local_list": self.local_list,
            "profiles": persist.str_keys(self.profiles),
            "reservations": persist.str_keys(self.reservations),
            "transactions": [asdict(t) for t in self.transactions.values()],
            "queue": persist.calls_to_json(self.queue),
            "queue_attempts": self.queue_attempts,
            "costs": self.costs,
        }

    @classmethod
    def from_json(cls, data: dict) -> SimState201:
        variables = {}
        for item in data.get("variables", []):
            entry = dict(item)
            key = (entry.pop("component"), entry.pop("name"), entry.pop("instance"))
            variables[key] = entry
        transactions = [Transaction201(**t) for t in data.get("transactions", [])]
        return cls(
            meters=persist.int_keys(data.get("meters", {})),
            soc=persist.int_keys(data.get("soc", {})),
            status=persist.int_keys(data.get("status", {})),
            variables=variables,
            local_list_version=data.get("local_list_version", 0),
            local_list=data.get("local_list", {}),
            profiles=persist.int_keys(data.get("profiles", {})),
            reservations=persist.int_keys(data.get("reservations", {})),
            transactions={t.evse_id: t for t in transactions},
            queue=persist.calls_from_json(data.get("queue", []), call),
            queue_attempts=data.get("queue_attempts", 0),
            costs=data.get("costs", {}),
        )


def energy_value(meter_wh: float, context: str) -> dict:
    """The Energy.Active.Import.Register sampled value of a reading."""
    return {
        "value": round(meter_wh, 1),
        "context": context,
        "location": "Outlet",
        "measurand": "Energy.Active.Import.Register",
        "unit_of_measure": {"unit": "Wh"},
    }


def default_variables(config) -> dict[tuple[str, str, str], dict]:
    def var(value, mutability="ReadWrite", data_type="integer", unit=None):
        return {"value": str(value), "mutability": mutability, "data_type": data_type, "unit": unit}

    interval = max(int(config.meter_interval), 1)
    return {
        ("OCPPCommCtrlr", "HeartbeatInterval", ""): var(300, unit="s"),
        ("OCPPCommCtrlr", "WebSocketPingInterval", ""): var(0, unit="s"),
        ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"): var(3),
        ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"): var(10, unit="s"),
        ("SampledDataCtrlr", "TxUpdatedInterval", ""): var(interval, unit="s"),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", ""): var(
            "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC", data_type="MemberList"
        ),
        ("SampledDataCtrlr", "TxEndedMeasurands", ""): var("Energy.Active.Import.Register", data_type="MemberList"),
        ("AlignedDataCtrlr", "Interval", ""): var(0, unit="s"),
        ("TxCtrlr", "EVConnectionTimeOut", ""): var(60, unit="s"),
        ("TxCtrlr", "StopTxOnEVSideDisconnect", ""): var("true", data_type="boolean"),
        ("AuthCtrlr", "AuthorizeRemoteStart", ""): var("false", data_type="boolean"),
        ("AuthCtrlr", "LocalAuthorizeOffline", ""): var("true", data_type="boolean"),
        ("AuthCacheCtrlr", "Enabled", ""): var("true", data_type="boolean"),
        ("LocalAuthListCtrlr", "Enabled", ""): var("true", data_type="boolean"),
        ("SmartChargingCtrlr", "ProfileStackLevel", ""): var(8, mutability="ReadOnly"),
        ("SmartChargingCtrlr", "RateUnit", ""): var("A,W", mutability="ReadOnly", data_type="MemberList"),
        ("ChargingStation", "Model", ""): var(config.model, mutability="ReadOnly", data_type="string"),
        ("ChargingStation", "VendorName", ""): var(config.vendor, mutability="ReadOnly", data_type="string"),
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): var(50, mutability="ReadOnly"),
        ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): var(50, mutability="ReadOnly"),
    }


class SimulatedChargePoint201(SimulatorBase, ChargePoint):
    results = call_result
    state_class = SimState201

    def __init__(self, config, connection, state: SimState201 | None = None) -> None:
        super().__init__(config.identity, connection, response_timeout=30)
        self._start_state(config, state or SimState201())
        if not self.state.variables:
            self.state.variables = default_variables(config)
        self.transaction_answers: list[tuple[dict, object]] = []  # (request, response) of TransactionEvents
        self.replayed: list[tuple[dict, object]] = []  # those of them sent with offline=true

    @staticmethod
    def end_transactions_at_boot(state: SimState201, reason: str, timestamp: str) -> None:
        """A reboot (Reboot, or PowerLoss after a crash) ended the open transactions: queue
        their Ended event (triggerReason AbnormalCondition), sent after the next boot."""
        assert reason in (ReasonEnumType.reboot, ReasonEnumType.power_loss), reason
        for evse_id, transaction in sorted(state.transactions.items()):
            meter = state.meters.get(evse_id, 0.0)
            state.queue.append(
                call.TransactionEvent(
                    event_type="Ended",
                    timestamp=timestamp,
                    trigger_reason=TriggerReasonEnumType.abnormal_condition,
                    seq_no=transaction.next_seq_no(),
                    transaction_info={"transaction_id": transaction.transaction_id, "stopped_reason": reason},
                    meter_value=[{"timestamp": timestamp, "sampled_value": [energy_value(meter, "Transaction.End")]}],
                )
            )
            state.status[evse_id] = "Available"
        state.transactions.clear()

    # --- helpers ---------------------------------------------------------------------------

    def message_attempts(self) -> int:
        value = self.variable("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")
        return max(int(value or 3), 1)

    def message_attempt_interval(self) -> float:
        value = self.variable("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent")
        return max(float(value or 10), 0.0)

    def queued_while_lost(self, request) -> None:
        request.offline = True  # replayed later as happened while offline

    def delivered(self, request, response) -> None:
        self.transaction_answers.append((request, response))
        if request.offline:
            self.replayed.append((request, response))

    def variable(self, component: str, name: str, instance: str = "") -> str | None:
        entry = self.state.variables.get((component, name, instance))
        return entry["value"] if entry else None

    def meter_interval(self) -> float:
        return float(self.variable("SampledDataCtrlr", "TxUpdatedInterval") or self.config.meter_interval)

    def profile_entries(self) -> list[ProfileEntry]:
        entries = []
        for stored in self.state.profiles.values():
            profile = stored["profile"]
            entries.append(
                ProfileEntry(
                    target=stored["evse_id"],
                    purpose=profile.get("charging_profile_purpose", ""),
                    stack_level=profile.get("stack_level", 0),
                    transaction_id=profile.get("transaction_id"),
                    schedule=(profile.get("charging_schedule") or [{}])[0],
                )
            )
        return entries

    def transaction_id_on(self, connector_id: int) -> str | None:
        transaction = self.state.transactions.get(connector_id)
        return None if transaction is None else transaction.transaction_id

    def free_evse(self) -> int | None:
        return next(
            (
                e
                for e in range(1, self.config.connectors + 1)
                if e not in self.state.transactions and self.state.status.get(e) == "Available"
            ),
            None,
        )

    # --- the station's own messages ----------------------------------------------------------

    async def boot(self, reason: str = "PowerUp") -> str:
        response = await self.call(
            call.BootNotification(
                charging_station={
                    "model": self.config.model,
                    "vendor_name": self.config.vendor,
                    "serial_number": f"SN-{self.config.identity}",
                    "firmware_version": "2.0.1-sim",
                },
                reason=reason,
            )
        )
        self.boot_status = response.status
        if response.status == "Accepted":
            self.state.variables[("OCPPCommCtrlr", "HeartbeatInterval", "")]["value"] = str(response.interval)
        return response.status

    async def heartbeat(self) -> str:
        return (await self.call(call.Heartbeat())).current_time

    async def send_status(self, evse_id: int, status: str):
        """Report a status; kept in the state and reported again after boot when offline."""
        self.state.status[evse_id] = status
        return await self.call_unless_lost(
            call.StatusNotification(timestamp=utc_now(), connector_status=status, evse_id=evse_id, connector_id=1)
        )

    async def authorize(self, id_token: str, token_type: str = "ISO14443") -> dict:
        return (await self.call(call.Authorize(id_token={"id_token": id_token, "type": token_type}))).id_token_info

    def meter_value(self, evse_id: int, context: str) -> list[dict]:
        transaction = self.state.transactions.get(evse_id)
        charging = transaction is not None and transaction.charging_state == "Charging"
        amps = self.draw_amps(evse_id) if charging else [0.0] * PHASES
        power = sum(amps) * VOLTAGE * random.uniform(0.97, 1.0)
        values = [
            energy_value(self.state.meters[evse_id], context),
            {
                "value": round(power, 1),
                "context": context,
                "measurand": "Power.Active.Import",
                "unit_of_measure": {"unit": "W"},
            },
        ]
        for phase, current in zip(("L1", "L2", "L3"), amps):
            values.append(
                {
                    "value": round(current, 2),
                    "context": context,
                    "measurand": "Current.Import",
                    "phase": phase,
                    "unit_of_measure": {"unit": "A"},
                }
            )
        values.append(
            {
                "value": round(VOLTAGE + random.uniform(-2, 2), 1),
                "context": context,
                "measurand": "Voltage",
                "phase": "L1-N",
                "unit_of_measure": {"unit": "V"},
            }
        )
        values.append(
            {
                "value": int(self.state.soc.get(evse_id, 50)),
                "context": context,
                "measurand": "SoC",
                "location": "EV",
                "unit_of_measure": {"unit": "Percent"},
            }
        )
        return [{"timestamp": utc_now(), "sampled_value": values}]

    async def transaction_event(
        self,
        event_type: str,
        transaction: Transaction201,
        trigger_reason: str,
        *,
        charging_state: str | None = None,
        stopped_reason: str | None = None,
        meter_context: str | None = None,
        id_token: dict | None = None,
        evse: bool = False,
        reservation_id: int | None = None,
    ):
        """Build the next TransactionEvent of `transaction` and deliver it (the answer), or
        queue it (None) when offline or behind messages not delivered yet."""
        info: dict = {"transaction_id": transaction.transaction_id}
        if charging_state:
            transaction.charging_state = charging_state
            info["charging_state"] = charging_state
        if stopped_reason:
            info["stopped_reason"] = stopped_reason
        if transaction.remote_start_id is not None and event_type == "Started":
            info["remote_start_id"] = transaction.remote_start_id
        request = call.TransactionEvent(
            event_type=event_type,
            timestamp=utc_now(),
            trigger_reason=trigger_reason,
            seq_no=transaction.next_seq_no(),
            transaction_info=info,
            meter_value=self.meter_value(transaction.evse_id, meter_context) if meter_context else None,
            evse={"id": transaction.evse_id, "connector_id": 1} if evse else None,
            id_token=id_token,
            reservation_id=reservation_id,
        )
        if self.state.offline:
            request.offline = True
        return await self.send_transaction_message(request)

    async def replay_queue(self) -> list:
        """Deliver the queued TransactionEvents in order (after boot, before anything new);
        returns the (request, answer) pairs of those sent with offline=true so far."""
        await self.deliver_queue()
        return self.replayed

    def go_offline(self) -> None:
        """From now on TransactionEvents are queued, as when the station loses its link."""
        self.state.offline = True

    async def start_transaction(
        self,
        evse_id: int,
        id_token: str | None,
        *,
        token_type: str = "ISO14443",
        trigger_reason: str = "Authorized",
        remote_start_id: int | None = None,
        transaction_id: str | None = None,
        meter_loop: bool = True,
        charge: bool = True,
        ends_at: float | None = None,
    ) -> Transaction201:
        """Plug in + authorise: Started (EVConnected), then Charging unless `charge` is False."""
        token = {"id_token": id_token, "type": token_type} if id_token else None
        transaction = Transaction201(
            evse_id, transaction_id or uuid.uuid4().hex[:20], token, remote_start_id, ends_at=ends_at
        )
        self.state.transactions[evse_id] = transaction
        self.state.soc.setdefault(evse_id, float(random.randint(15, 60)))
        if not self.state.offline:
            await self.send_status(evse_id, "Occupied")
        # A start on a reserved EVSE names (and ends) its reservation.
        reservation_id = next((r for r, e in self.state.reservations.items() if e == evse_id), None)
        self.state.reservations.pop(reservation_id, None)
        response = await self.transaction_event(
            "Started",
            transaction,
            trigger_reason,
            charging_state="EVConnected",
            meter_context="Transaction.Begin",
            id_token=token,
            evse=True,
            reservation_id=reservation_id,
        )
        if response is not None and response.id_token_info and response.id_token_info.get("status") != "Accepted":
            await self.stop_transaction(evse_id, "DeAuthorized", trigger_reason="Deauthorized")
            return transaction
        if charge:
            await self.set_charging_state(evse_id, "Charging")
        if meter_loop:
            self.meter_tasks[evse_id] = self.spawn(self._meter_loop(evse_id))
        return transaction

    async def set_charging_state(self, evse_id: int, state: str, trigger_reason: str = "ChargingStateChanged"):
        transaction = self.state.transactions[evse_id]
        return await self.transaction_event("Updated", transaction, trigger_reason, charging_state=state)

    async def meter_update(
        self, evse_id: int, seconds: float | None = None, trigger_reason: str = "MeterValuePeriodic"
    ):
        """Advance the meter by `seconds` of charging and send a periodic Updated."""
        transaction = self.state.transactions[evse_id]
        seconds = self.meter_interval() if seconds is None else seconds
        if transaction.charging_state == "Charging":
            power = self.draw_w(evse_id)
            self.state.meters[evse_id] += power * seconds / 3600
            self.state.soc[evse_id] = min(100.0, self.state.soc.get(evse_id, 50) + power * seconds / 3600 / 600)
        return await self.transaction_event("Updated", transaction, trigger_reason, meter_context="Sample.Periodic")

    async def stop_transaction(
        self,
        evse_id: int,
        reason: str = "Local",
        *,
        trigger_reason: str = "StopAuthorized",
        id_token: dict | None = None,
    ):
        transaction = self.state.transactions.pop(evse_id, None)
        task = self.meter_tasks.pop(evse_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if transaction is None:
            return None
        state = "Idle" if reason in {"EVDisconnected", "Timeout"} else "EVConnected"
        response = await self.transaction_event(
            "Ended",
            transaction,
            trigger_reason,
            charging_state=state,
            stopped_reason=reason,
            meter_context="Transaction.End",
            id_token=id_token,
        )
        if not self.state.offline:
            await self.send_status(evse_id, "Available")
        if self.reset_requested == "OnIdle" and not self.state.transactions:
            self.spawn(self._reset_now())  # the Reset it answered Scheduled
        return response

    async def _meter_loop(self, evse_id: int) -> None:
        while evse_id in self.state.transactions:
            await asyncio.sleep(max(self.meter_interval(), 0.2))
            if evse_id in self.state.transactions:
                await self.meter_update(evse_id)

    # --- autonomous life ---------------------------------------------------------------------

    async def run_until(self, stop: asyncio.Event) -> None:
        receiver = self.spawn(self.start())
        try:
            status = await self.boot()
            while status != "Accepted":
                await asyncio.sleep(10)
                status = await self.boot()
            await self.deliver_queue()  # what the previous connection (or run) left unanswered
            for evse_id in range(1, self.config.connectors + 1):
                await self.send_status(evse_id, self.state.status.get(evse_id, "Available"))
            for evse_id in list(self.state.transactions):  # not rebooted: the sessions go on
                self.meter_tasks[evse_id] = self.spawn(self._meter_loop(evse_id))
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
            await asyncio.sleep(max(int(self.variable("OCPPCommCtrlr", "HeartbeatInterval") or 300), 1))
            await self.heartbeat()

    async def _rfid_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.rfid_every * random.uniform(0.5, 1.5))
            evse_id = self.free_evse()
            if evse_id is None:
                continue
            tag = self.config.tag_for(evse_id)
            info = await self.authorize(tag)
            if info["status"] != "Accepted":
                continue
            ends_at = time.time() + self.config.rfid_every * random.uniform(0.3, 0.8)
            await self.start_transaction(evse_id, tag, ends_at=ends_at)

    # --- commands from the CSMS ----------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, id_token: dict, remote_start_id: int, evse_id: int | None = None, **kwargs):
        self._note("RequestStartTransaction")
        evse_id = evse_id or self.free_evse()
        if evse_id is None or evse_id in self.state.transactions or evse_id > self.config.connectors:
            return call_result.RequestStartTransaction(status="Rejected")
        profile = kwargs.get("charging_profile")
        if profile:
            self.state.profiles[profile["id"]] = {"evse_id": evse_id, "profile": profile}
        transaction_id = uuid.uuid4().hex[:20]
        self.spawn(
            self.start_transaction(
                evse_id,
                id_token["id_token"],
                token_type=id_token["type"],
                trigger_reason="RemoteStart",
                remote_start_id=remote_start_id,
                transaction_id=transaction_id,
            )
        )
        return call_result.RequestStartTransaction(status="Accepted", transaction_id=transaction_id)

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **kwargs):
        self._note("RequestStopTransaction")
        for evse_id, transaction in self.state.transactions.items():
            if transaction.transaction_id == transaction_id:
                self.spawn(self.stop_transaction(evse_id, "Remote", trigger_reason="RemoteStop"))
                return call_result.RequestStopTransaction(status="Accepted")
        return call_result.RequestStopTransaction(status="Rejected")

    @on(Action.get_transaction_status)
    def on_get_transaction_status(self, transaction_id: str | None = None, **kwargs):
        self._note("GetTransactionStatus")
        queued = [
            r
            for r in self.state.queue
            if transaction_id is None or r.transaction_info["transaction_id"] == transaction_id
        ]
        if transaction_id is None:
            return call_result.GetTransactionStatus(messages_in_queue=bool(queued))
        ongoing = any(t.transaction_id == transaction_id for t in self.state.transactions.values())
        return call_result.GetTransactionStatus(messages_in_queue=bool(queued), ongoing_indicator=ongoing)

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **kwargs):
        self._note("Reset")
        if evse_id is not None and evse_id > self.config.connectors:
            return call_result.Reset(status="Rejected")
        if type == "OnIdle" and self.state.transactions:
            self.reset_requested = type
            return call_result.Reset(status="Scheduled")
        self.reset_requested = type
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str, evse_id: int | None = None, **kwargs):
        if type == "OnIdle" and self.state.transactions:
            return  # stop_transaction resets when the last transaction ends
        for evse in list(self.state.transactions):
            if evse_id in (None, evse):
                await self.stop_transaction(
                    evse, ReasonEnumType.immediate_reset, trigger_reason=TriggerReasonEnumType.reset_command
                )
        if evse_id is None:
            await self._reset_now()

    async def _reset_now(self) -> None:
        await asyncio.sleep(0.1)
        await library.connection_of(self).close()  # the runner reconnects and boots again

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **kwargs):
        self._note("UnlockConnector")
        if not 1 <= evse_id <= self.config.connectors or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        if evse_id in self.state.transactions:
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    def on_change_availability(self, operational_status: str, evse: dict | None = None, **kwargs):
        self._note("ChangeAvailability")
        status = "Available" if operational_status == "Operative" else "Unavailable"
        targets = [evse["id"]] if evse and evse.get("id") else list(range(1, self.config.connectors + 1))
        if any(t > self.config.connectors for t in targets):
            return call_result.ChangeAvailability(status="Rejected")
        if any(t in self.state.transactions for t in targets):
            return call_result.ChangeAvailability(status="Scheduled")
        for evse_id in targets:
            self.spawn(self.send_status(evse_id, status))
        return call_result.ChangeAvailability(status="Accepted")

    def _check_items_per_message(self, action: str, items: list) -> None:
        """Like a strict station: more items than ItemsPerMessage[action] is a CALLERROR."""
        entry = self.state.variables.get(("DeviceDataCtrlr", "ItemsPerMessage", action))
        if entry is not None and len(items) > int(entry["value"]):
            raise OccurrenceConstraintViolationError(
                description=f"{len(items)} items, more than ItemsPerMessage {action} ({entry['value']})"
            )

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list, **kwargs):
        self._note("GetVariables")
        self._check_items_per_message("GetVariables", get_variable_data)
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            key = (component["name"], variable["name"], variable.get("instance", ""))
            result = {
                "component": component,
                "variable": variable,
                "attribute_type": item.get("attribute_type", "Actual"),
            }
            entry = self.state.variables.get(key)
            if entry is None:
                known_component = any(k[0] == key[0] for k in self.state.variables)
                result["attribute_status"] = "UnknownVariable" if known_component else "UnknownComponent"
            elif item.get("attribute_type", "Actual") != "Actual":
                result["attribute_status"] = "NotSupportedAttributeType"
            else:
                result["attribute_status"] = "Accepted"
                result["attribute_value"] = entry["value"]
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list, **kwargs):
        self._note("SetVariables")
        self._check_items_per_message("SetVariables", set_variable_data)
        results = []
        for item in set_variable_data:
            component, variable = item["component"], item["variable"]
            key = (component["name"], variable["name"], variable.get("instance", ""))
            entry = self.state.variables.get(key)
            if entry is None:
                status = "UnknownVariable" if any(k[0] == key[0] for k in self.state.variables) else "UnknownComponent"
            elif entry["mutability"] == "ReadOnly":
                status = "Rejected"
            else:
                entry["value"] = str(item["attribute_value"])
                status = "Accepted"
            results.append(
                {
                    "attribute_status": status,
                    "component": component,
                    "variable": variable,
                    "attribute_type": item.get("attribute_type", "Actual"),
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    def _report_data(self, wanted=None) -> list[dict]:
        data = []
        for (component, name, instance), entry in self.state.variables.items():
            if wanted is not None and not wanted(component, name):
                continue
            variable = {"name": name, **({"instance": instance} if instance else {})}
            characteristics = {"data_type": entry["data_type"], "supports_monitoring": False}
            if entry.get("unit"):
                characteristics["unit"] = entry["unit"]
            data.append(
                {
                    "component": {"name": component},
                    "variable": variable,
                    "variable_attribute": [
                        {"type": "Actual", "value": entry["value"], "mutability": entry["mutability"]}
                    ],
                    "variable_characteristics": characteristics,
                }
            )
        for evse_id in range(1, self.config.connectors + 1):
            if wanted is None or wanted("EVSE", "AvailabilityState"):
                data.append(
                    {
                        "component": {"name": "EVSE", "evse": {"id": evse_id}},
                        "variable": {"name": "AvailabilityState"},
                        "variable_attribute": [
                            {
                                "type": "Actual",
                                "value": self.state.status.get(evse_id, "Available"),
                                "mutability": "ReadOnly",
                            }
                        ],
                        "variable_characteristics": {"data_type": "OptionList", "supports_monitoring": False},
                    }
                )
        return data

    async def _send_report(self, request_id: int, data: list[dict]) -> None:
        await asyncio.sleep(0.05)  # the answer goes first
        parts = [data[i : i + 10] for i in range(0, len(data), 10)] or [[]]
        for seq_no, part in enumerate(parts):
            await self.call(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=utc_now(),
                    seq_no=seq_no,
                    report_data=part or None,
                    tbc=seq_no < len(parts) - 1,
                )
            )

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **kwargs):
        self._note("GetBaseReport")
        self.spawn(self._send_report(request_id, self._report_data()))
        return call_result.GetBaseReport(status="Accepted")

    @on(Action.get_report)
    def on_get_report(self, request_id: int, component_variable: list | None = None, **kwargs):
        self._note("GetReport")
        wanted = None
        if component_variable:
            pairs = {(cv["component"]["name"], (cv.get("variable") or {}).get("name")) for cv in component_variable}
            wanted = lambda c, v: (c, v) in pairs or (c, None) in pairs  # noqa: E731
        data = self._report_data(wanted)
        if not data:
            return call_result.GetReport(status="EmptyResultSet")
        self.spawn(self._send_report(request_id, data))
        return call_result.GetReport(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict, **kwargs):
        self._note("SetChargingProfile")
        if evse_id > self.config.connectors:
            return call_result.SetChargingProfile(status="Rejected")
        self.state.profiles[charging_profile["id"]] = {"evse_id": evse_id, "profile": charging_profile}
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, charging_profile_id: int | None = None, charging_profile_criteria: dict | None = None, **kwargs
    ):
        self._note("ClearChargingProfile")
        criteria = charging_profile_criteria or {}
        doomed = [
            pid
            for pid, entry in self.state.profiles.items()
            if (charging_profile_id is None or pid == charging_profile_id)
            and ("evse_id" not in criteria or entry["evse_id"] == criteria["evse_id"])
            and (
                "charging_profile_purpose" not in criteria
                or entry["profile"]["charging_profile_purpose"] == criteria["charging_profile_purpose"]
            )
            and ("stack_level" not in criteria or entry["profile"]["stack_level"] == criteria["stack_level"])
        ]
        for pid in doomed:
            del self.state.profiles[pid]
        return call_result.ClearChargingProfile(status="Accepted" if doomed else "Unknown")

    @on(Action.get_charging_profiles)
    def on_get_charging_profiles(self, request_id: int, charging_profile: dict, evse_id: int | None = None, **kwargs):
        self._note("GetChargingProfiles")
        found = [e for e in self.state.profiles.values() if evse_id is None or e["evse_id"] == evse_id]
        if not found:
            return call_result.GetChargingProfiles(status="NoProfiles")

        async def report():
            await asyncio.sleep(0.05)
            by_evse: dict[int, list] = {}
            for entry in found:
                by_evse.setdefault(entry["evse_id"], []).append(entry["profile"])
            for n, (evse, profiles) in enumerate(by_evse.items()):
                await self.call(
                    call.ReportChargingProfiles(
                        request_id=request_id,
                        charging_limit_source="CSO",
                        charging_profile=profiles,
                        evse_id=evse,
                        tbc=n < len(by_evse) - 1,
                    )
                )

        self.spawn(report())
        return call_result.GetChargingProfiles(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **kwargs):
        self._note("GetCompositeSchedule")
        if evse_id > self.config.connectors:
            return call_result.GetCompositeSchedule(status="Rejected")
        limit = round(self.power_limit_w(evse_id or 1), 1)
        unit = charging_rate_unit or "W"
        if unit == "A":
            limit = round(limit / (VOLTAGE * PHASES), 1)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": utc_now(),
                "charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            },
        )

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse: dict | None = None, **kwargs):
        self._note("TriggerMessage")
        evse_id = (evse or {}).get("id")

        async def transaction_updated():
            transaction = self.state.transactions.get(evse_id or next(iter(self.state.transactions), 0))
            if transaction is not None:
                await self.transaction_event("Updated", transaction, "Trigger", meter_context="Trigger")

        senders = {
            "BootNotification": lambda: self.boot("Triggered"),
            "Heartbeat": self.heartbeat,
            "StatusNotification": lambda: self.send_status(
                evse_id or 1, self.state.status.get(evse_id or 1, "Available")
            ),
            "MeterValues": lambda: self.call(
                call.MeterValues(evse_id=evse_id or 1, meter_value=self.meter_value(evse_id or 1, "Trigger"))
            ),
            "TransactionEvent": transaction_updated,
            "LogStatusNotification": lambda: self.call(call.LogStatusNotification(status="Idle")),
            "FirmwareStatusNotification": lambda: self.call(call.FirmwareStatusNotification(status="Idle")),
        }
        sender = senders.get(requested_message)
        if sender is None:
            return call_result.TriggerMessage(status="NotImplemented")
        if requested_message == "TransactionEvent" and not self.state.transactions:
            return call_result.TriggerMessage(status="Rejected")
        self.send_later(sender)
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict, **kwargs):
        self._note("UpdateFirmware")

        async def progress():
            for status in ("Downloading", "Downloaded", "Installing", "Installed"):
                await asyncio.sleep(0.1)
                await self.call(call.FirmwareStatusNotification(status=status, request_id=request_id))

        self.spawn(progress())
        return call_result.UpdateFirmware(status="Accepted")

    @on(Action.get_log)
    def on_get_log(self, log_type: str, request_id: int, log: dict, **kwargs):
        self._note("GetLog")

        async def progress():
            for status in ("Uploading", "Uploaded"):
                await asyncio.sleep(0.1)
                await self.call(call.LogStatusNotification(status=status, request_id=request_id))

        self.spawn(progress())
        return call_result.GetLog(status="Accepted", filename=f"{log_type.lower()}-{self.config.identity}.log")

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number: int, update_type: str, **kwargs):
        self._note("SendLocalList")
        if update_type == "Differential" and version_number <= self.state.local_list_version:
            return call_result.SendLocalList(status="VersionMismatch")
        if update_type == "Full":
            self.state.local_list = {}
        for entry in kwargs.get("local_authorization_list") or []:
            uid = entry["id_token"]["id_token"]
            if entry.get("id_token_info"):
                self.state.local_list[uid] = entry["id_token_info"]
            else:
                self.state.local_list.pop(uid, None)
        self.state.local_list_version = version_number
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs):
        self._note("GetLocalListVersion")
        return call_result.GetLocalListVersion(version_number=self.state.local_list_version)

    @on(Action.reserve_now)
    def on_reserve_now(self, id: int, expiry_date_time: str, id_token: dict, evse_id: int | None = None, **kwargs):
        self._note("ReserveNow")
        evse_id = evse_id or self.free_evse()
        if evse_id is None or evse_id > self.config.connectors:
            return call_result.ReserveNow(status="Rejected")
        if evse_id in self.state.transactions or self.state.status.get(evse_id) not in ("Available", "Reserved"):
            return call_result.ReserveNow(status="Occupied")
        self.state.reservations[id] = evse_id
        self.spawn(self.send_status(evse_id, "Reserved"))
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cost_updated)
    def on_cost_updated(self, total_cost: float, transaction_id: str, **kwargs):
        self._note("CostUpdated")
        self.state.costs[transaction_id] = total_cost
        return call_result.CostUpdated()

    @on(Action.set_network_profile)
    def on_set_network_profile(self, configuration_slot: int, connection_data: dict, **kwargs):
        self._note("SetNetworkProfile")
        return call_result.SetNetworkProfile(status="Accepted" if configuration_slot >= 0 else "Rejected")
