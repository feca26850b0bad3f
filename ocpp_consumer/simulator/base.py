"""What the simulated 1.6 charger and 2.0.1 station share: the clock, the electrics, task
bookkeeping, the transaction-message queue, and the handlers whose request and answer are
the same in both versions.

A subclass sets `results` to its version's `ocpp` call_result module, since the answer
classes are per version even where their fields agree.

Transaction-related messages (1.6 StartTransaction, StopTransaction and MeterValues of a
transaction; 2.0.1 TransactionEvent) go through one queue kept in the charger's state, so
it survives a reconnect, as on a real charger: a message leaves the queue only when the
central system answered it. One that got no answer (the socket closed) stays at the head
and goes first after the next connection; one answered with a CALLERROR (or not answered
in time) is tried again after interval x attempts, up to the charger's configured number
of attempts, then dropped. Later messages wait behind it, so the order never changes."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import NamedTuple

from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from ocpp.routing import on
from websockets.exceptions import ConnectionClosed

from ocpp_consumer import library

logger = logging.getLogger("simulator")

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


class ConnectionLost(Exception):
    """The socket closed before the central system answered."""


# What a failed attempt looks like: a CALLERROR, or no answer in time on an open socket.
FAILED_ATTEMPT = (OCPPError, UnknownCallErrorCodeError, TimeoutError)
LOST = (ConnectionLost, ConnectionClosed, OSError)
# How often the run loop looks for sessions whose (simulated) driver comes back to stop them.
PLANNED_STOP_CHECK_S = 1.0


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
        self.state.offline = False  # a new connection: deliver, and replay what was queued
        self.meter_tasks: dict[int, asyncio.Task] = {}
        self.reset_requested: str | None = None
        self.boot_status: str | None = None
        self._tasks = set()
        self.commands_received = []
        self._drainer: asyncio.Task | None = None
        self._retry_at: float | None = None  # event-loop time of the next attempt after a failure
        self._lost = False  # this connection closed: queue, do not send
        self._answers: dict[int, object] = {}  # id(request) -> answer, for the caller who queued it

    def spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _note(self, action: str) -> None:
        self.commands_received.append(action)

    # --- calls that notice a closed socket at once ----------------------------------------

    async def call_until_lost(self, request):
        """`call` that raises a CALLERROR as its OCPPError, and ConnectionLost as soon as the
        socket closes instead of after the response timeout."""
        answer = asyncio.ensure_future(self.call(request, suppress=False))
        closed = asyncio.ensure_future(library.connection_of(self).wait_closed())
        try:
            done, _ = await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not answer.done():
                answer.cancel()
        if answer not in done:
            raise ConnectionLost(f"{self.id}: the connection closed before {type(request).__name__} was answered")
        return answer.result()

    async def call_unless_lost(self, request):
        """A message that is not transaction-related: its answer, or None when the connection
        is gone or it failed (what it reported is in the state and sent again after boot)."""
        if self.state.offline or self._lost:
            return None
        try:
            return await self.call_until_lost(request)
        except LOST:
            self._lost = True
            return None
        except FAILED_ATTEMPT as exc:
            logger.info("%s: %s failed (%s)", self.id, type(request).__name__, exc)
            return None

    # --- the transaction-message queue -------------------------------------------------------

    def message_attempts(self) -> int:
        """How often a transaction message is tried when the central system fails it."""
        raise NotImplementedError

    def message_attempt_interval(self) -> float:
        """Seconds before the next attempt, multiplied by the attempts made so far."""
        raise NotImplementedError

    def queued_while_lost(self, request) -> None:
        """A hook: `request` stays queued because the link is down."""

    def delivered(self, request, response) -> None:
        """A hook: the central system answered `request` (the queue head)."""

    def discarded(self, request) -> None:
        """A hook: `request` was dropped after its last attempt."""

    async def send_transaction_message(self, request):
        """Queue `request` behind the transaction messages not yet delivered and deliver the
        queue in order. Returns the answer to `request`, or None while it stays queued."""
        self.state.queue.append(request)
        await self.deliver_queue()
        return self._answers.pop(id(request), None)

    async def deliver_queue(self) -> None:
        """Deliver the queued transaction messages in order, until the queue is empty, the link
        is down, or the head waits for its next attempt. The delivery runs in a task of its
        own, so a caller that is cancelled never cuts a message off halfway."""
        if self._drainer is None or self._drainer.done():
            if not self.state.queue or self._waiting_to_retry():
                return
            self._drainer = self.spawn(self._drain())
        await asyncio.shield(self._drainer)

    def _waiting_to_retry(self) -> bool:
        return self._retry_at is not None and asyncio.get_running_loop().time() < self._retry_at

    async def _drain(self) -> None:
        while self.state.queue:
            if self.state.offline or self._lost:
                for request in self.state.queue:
                    self.queued_while_lost(request)
                return
            request = self.state.queue[0]
            try:
                response = await self.call_until_lost(request)
            except LOST:
                self._lost = True
                continue  # marks what is queued, then stops
            except FAILED_ATTEMPT as exc:
                if self._attempt_failed(request, exc):
                    return
                continue
            self.state.queue.pop(0)
            self.state.queue_attempts = 0
            self._answers[id(request)] = response
            self.delivered(request, response)

    def _attempt_failed(self, request, exc: Exception) -> bool:
        """Count a failed attempt of the queue head; drop it after the last one. True when
        the queue now waits for the next attempt."""
        self.state.queue_attempts += 1
        action = type(request).__name__
        if self.state.queue_attempts >= self.message_attempts():
            logger.warning("%s: dropping %s after %d attempts (%s)", self.id, action, self.state.queue_attempts, exc)
            self.state.queue.pop(0)
            self.state.queue_attempts = 0
            self.discarded(request)
            return False
        delay = self.message_attempt_interval() * self.state.queue_attempts
        logger.info(
            "%s: %s failed (%s); attempt %d in %.0f s", self.id, action, exc, self.state.queue_attempts + 1, delay
        )
        self._retry_at = asyncio.get_running_loop().time() + delay
        self.spawn(self._retry_after(delay))
        return True

    async def _retry_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._retry_at = None
        await self.deliver_queue()

    # --- sessions a simulated driver ends -------------------------------------------------------

    async def _planned_stop_loop(self) -> None:
        """Stop the sessions whose driver comes back (`ends_at`, wall-clock seconds): kept in
        the state, so an RFID session ends even when a reconnect came in between."""
        while True:
            await asyncio.sleep(PLANNED_STOP_CHECK_S)
            now = time.time()
            for number, transaction in list(self.state.transactions.items()):
                if transaction.ends_at is not None and transaction.ends_at <= now:
                    await self.stop_transaction(number, "Local")

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
