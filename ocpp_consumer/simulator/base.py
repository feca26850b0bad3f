"""What the simulated 1.6 charger and 2.0.1 station share: the clock, the electrics, task
bookkeeping, and the handlers whose request and answer are the same in both versions.

A subclass sets `results` to its version's `ocpp` call_result module, since the answer
classes are per version even where their fields agree."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import NamedTuple

from ocpp.routing import on

VOLTAGE = 230.0
PHASES = 3
# A triggered message goes after the answer to TriggerMessage, as on a real charger.
TRIGGER_DELAY_S = 0.05


MAX_PURPOSES = ("ChargePointMaxProfile", "ChargingStationMaxProfile")


class ProfileEntry(NamedTuple):
    target: int  # connector (1.6) or EVSE (2.0.1); 0 = the whole charger
    purpose: str
    stack_level: int
    transaction_id: str | None
    schedule: dict  # snake_case chargingSchedule


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def schedule_limit_w(schedule: dict) -> float | None:
    """The first period's limit of a (snake_case) chargingSchedule in watts; None without one."""
    periods = schedule.get("charging_schedule_period") or []
    if not periods:
        return None
    limit = float(periods[0]["limit"])
    if schedule.get("charging_rate_unit") == "A":
        limit = limit * VOLTAGE * periods[0].get("number_phases", PHASES)
    return limit


class SimulatorBase:
    results: ModuleType  # ocpp.v16.call_result or ocpp.v201.call_result
    config: object
    state: object
    commands_received: list[str]
    _tasks: set[asyncio.Task]

    def _start_state(self, config, state) -> None:
        """The run-time fields both versions keep, and a meter register and status for each
        connector (EVSE) that the kept state does not have yet."""
        self.config = config
        self.state = state
        for number in range(1, config.connectors + 1):
            self.state.meters.setdefault(number, float(random.randint(1_000_000, 5_000_000)))
            self.state.status.setdefault(number, "Available")
        self.meter_tasks: dict[int, asyncio.Task] = {}
        self.reset_requested: str | None = None
        self.boot_status: str | None = None
        self._tasks = set()
        self.commands_received = []

    def spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _note(self, action: str) -> None:
        self.commands_received.append(action)

    def power_limit_w(self, connector_id: int) -> float:
        """The power the charging profiles allow on this connector (EVSE): the configured
        power, lowered by the profile that governs it (a TxProfile of its transaction, else
        its TxDefaultProfile, else connector 0's; the highest stack level of each) and by
        the charger's maximum profiles."""
        power = float(self.config.power_w)
        for schedule in self.governing_schedules(connector_id):
            limit = schedule_limit_w(schedule)
            if limit is not None:
                power = min(power, limit)
        return max(power, 0.0)

    def governing_schedules(self, connector_id: int) -> list[dict]:
        entries = self.profile_entries()
        transaction_id = self.transaction_id_on(connector_id)

        def highest(purpose: str, target: int) -> dict | None:
            found = [
                e
                for e in entries
                if e.purpose == purpose
                and e.target == target
                and (purpose != "TxProfile" or e.transaction_id in (None, transaction_id))
            ]
            return max(found, key=lambda e: e.stack_level).schedule if found else None

        chosen = highest("TxProfile", connector_id) if transaction_id is not None else None
        chosen = chosen or highest("TxDefaultProfile", connector_id) or highest("TxDefaultProfile", 0)
        caps = [e.schedule for e in entries if e.target == 0 and e.purpose in MAX_PURPOSES]
        return ([chosen] if chosen else []) + caps

    def car_phases(self) -> int:
        return int(self.config.extra.get("car_phases", PHASES))

    def car_max_amps(self) -> float:
        """What the simulated car takes at most per phase (extra["car_max_amps"]; by default
        the configured power on three phases)."""
        return float(self.config.extra.get("car_max_amps", self.config.power_w / (VOLTAGE * PHASES)))

    def draw_amps(self, connector_id: int) -> list[float]:
        """The current the car draws on L1, L2, L3: the lower of its own maximum and the
        limit the profiles set (a one-phase car draws on L1 only)."""
        limit = self.power_limit_w(connector_id) / (VOLTAGE * PHASES)
        amps = max(0.0, min(limit, self.car_max_amps()))
        return [amps if phase < self.car_phases() else 0.0 for phase in range(PHASES)]

    def draw_w(self, connector_id: int) -> float:
        return sum(self.draw_amps(connector_id)) * VOLTAGE

    def profile_entries(self) -> list[ProfileEntry]:
        """Each stored profile: its connector (EVSE), purpose, stack level, transaction."""
        raise NotImplementedError

    def transaction_id_on(self, connector_id: int) -> str | None:
        """The id of the transaction running on a connector (EVSE), as text."""
        raise NotImplementedError

    def send_later(self, sender: Callable[[], Awaitable]) -> None:
        async def later():
            await asyncio.sleep(TRIGGER_DELAY_S)
            await sender()

        self.spawn(later())

    @on("ClearCache")
    def on_clear_cache(self, **kwargs):
        self._note("ClearCache")
        return self.results.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **kwargs):
        self._note("DataTransfer")
        if vendor_id != self.config.vendor:
            return self.results.DataTransfer(status="UnknownVendorId")
        return self.results.DataTransfer(status="Accepted", data=kwargs.get("data"))

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **kwargs):
        self._note("CancelReservation")
        target = self.state.reservations.pop(reservation_id, None)
        if target is None:
            return self.results.CancelReservation(status="Rejected")
        self.spawn(self.send_status(target, "Available"))
        return self.results.CancelReservation(status="Accepted")
