"""Group commit: many coroutines hand work to one database call.

While one flush runs in the database thread, new items queue up and go together in the
next one. Every submitter waits for the commit of the flush holding its item, so nothing
is answered (acknowledged to a charger) before it is stored, yet under load one
transaction carries hundreds of frames.

When the database cannot be reached, a batch fails as a whole (its items are not retried
one by one: each retry would wait for a connection too), and for a moment after such a
failure new batches fail at once (accounts.outages.database_outage): every waiting frame
gets its error (a CALLERROR InternalError for the charger to resend) within about one
connection attempt, not one attempt per frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import OperationalError, close_old_connections, connection, connections, transaction

from accounts.outages import database_outage, is_database_unavailable
from chargepoints.fanout import collecting, publish_many_async

logger = logging.getLogger(__name__)

CONNECTION_CHECK_EVERY = 1.0  # seconds between connection checks of a busy group committer


def _skip_while_database_down() -> None:
    if database_outage.should_skip():
        raise OperationalError("The database is unavailable (a connection failed a moment ago)")


def _note_failure(error: BaseException) -> None:
    if is_database_unavailable(error):
        database_outage.failed(error)


Outcome = tuple[bool, Any]  # (True, result) or (False, the exception to raise in the caller)


class _Lane:
    """What every batcher below shares: coroutines queue items; one drain task takes up to
    `max_batch` of them at a time and runs them in one database hop (`_process`, sync, on
    the lane's thread), hands each caller its outcome once that hop has committed,
    publishes the live states it collected (after the answers, without holding anyone up),
    and hands the lane's database connection back when the queue is empty.

    The hop runs on `executor()` (a thread, and so a database connection, of the lane's
    own), or on the shared database thread when it gives None. Connection hygiene as
    channels' database_sync_to_async does it (close_old_connections: drop a broken or
    expired connection), but at most once per CONNECTION_CHECK_EVERY seconds and after
    any failure, not twice per hop: with CONN_HEALTH_CHECKS each of those also cost a
    SELECT 1 round trip (issue 3's profile: a tenth of the database thread at 500
    frames/s)."""

    def __init__(self, *, max_batch: int) -> None:
        self._max_batch = max_batch
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._running = False
        self._hygiene_due = 0.0

    def executor(self) -> ThreadPoolExecutor | None:
        return None

    def _process(self, items: list) -> tuple[list[Outcome], list[dict]]:
        """Run `items` in the database: one outcome per item, and the live states collected."""
        raise NotImplementedError

    def _hygiene(self) -> None:
        now = time.monotonic()
        if now >= self._hygiene_due:
            close_old_connections()
            self._hygiene_due = now + CONNECTION_CHECK_EVERY

    def _failed(self, error: BaseException) -> None:
        self._hygiene_due = 0.0  # (the connection is checked before the next hop)
        _note_failure(error)

    async def _hop(self, function: Callable, *args) -> Any:
        executor = self.executor()
        if executor is None:
            return await sync_to_async(function, thread_sensitive=True)(*args)
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    async def _submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    outcomes, states = await self._hop(self._process, [item for item, _ in batch])
                except Exception as exc:  # (the database was skipped as down, or the hop failed)
                    outcomes, states = [(False, exc)] * len(batch), []
                for (_, future), (ok, value) in zip(batch, outcomes):
                    if future.done():  # the caller went away (cancelled)
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                if states:
                    asyncio.get_running_loop().create_task(publish_many_async(states))
            # Idle: a lane's own connection goes back to the pool (as at a request's end).
            if self.executor() is not None:
                await self._hop(connections.close_all)
        finally:
            self._running = False
            if self._pending:  # arrived after the loop's last check
                self._running = True
                asyncio.get_running_loop().create_task(self._drain())


class GroupCommitter(_Lane):
    """Items of many coroutines flushed together by one call of `flush(items)` in one
    transaction; every submitter returns once it committed. If the flush fails (other than
    for an unreachable database), its items are flushed again one by one, so one bad item
    fails only its own submitter.

    `own_thread`: flush on a thread (and database connection) of this committer's own
    instead of the shared database thread, for a small lane that must not queue behind
    the frames' batches (the journal rows of commands, issue 20). Not on SQLite, which
    lets one writer in at a time: a lane of its own only adds waits for its lock."""

    def __init__(self, flush: Callable[[list], Any], *, max_batch: int = 500, own_thread: str = "") -> None:
        super().__init__(max_batch=max_batch)
        self._flush = flush
        self._executor: ThreadPoolExecutor | None = None
        if own_thread and connection.vendor == "postgresql":
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=own_thread)

    def executor(self) -> ThreadPoolExecutor | None:
        return self._executor

    def _flush_collecting(self, items: list) -> list[dict]:
        _skip_while_database_down()
        self._hygiene()
        try:
            with collecting() as states:
                self._flush(items)
        except Exception as error:
            self._failed(error)
            raise
        database_outage.succeeded()
        return states

    def _process(self, items: list) -> tuple[list[Outcome], list[dict]]:
        try:
            return [(True, None)] * len(items), self._flush_collecting(items)
        except Exception as error:
            if len(items) == 1 or is_database_unavailable(error):
                return [(False, error)] * len(items), []
            # One bad item must not fail the others: again one by one.
            logger.warning("group commit of %d items failed; retrying one by one", len(items), exc_info=True)
        outcomes: list[Outcome] = []
        states: list[dict] = []
        for item in items:
            try:
                states += self._flush_collecting([item])
            except Exception as exc:
                outcomes.append((False, exc))
            else:
                outcomes.append((True, None))
        return outcomes, states

    async def submit(self, item: Any) -> None:
        await self._submit(item)


_committers: dict[tuple[int, str], GroupCommitter] = {}


def committer(name: str, flush: Callable[[list], Any], *, own_thread: bool = False) -> GroupCommitter:
    """The process's committer for `name` on the running event loop (with `own_thread`, on
    a thread of its own, see GroupCommitter)."""
    key = (id(asyncio.get_running_loop()), name)
    found = _committers.get(key)
    if found is None:
        found = _committers[key] = GroupCommitter(flush, own_thread=f"ocpp-{name}" if own_thread else "")
    return found


class ServiceBatch(_Lane):
    """Service calls from many coroutines (boot, status, start, stop, TransactionEvent,
    Authorize, ...) share one database hop and one commit: the calls queued while one
    batch runs go together in the next, each in a savepoint of its own inside one
    transaction. A call that raises rolls back only its savepoint and fails only its own
    caller; every caller's result is handed back after the commit, so nothing is answered
    before it is stored.

    Why (issue 20): each call used to be its own transaction, and on a real disk a commit
    waits for its WAL flush (3 ms here), one after the other on the single database
    thread: a fleet's per-frame service calls then left the CPU idle, capping a process
    near 100-200 frames/s and admission near 30 chargers/s. A service that must commit
    before something else reads its outcome (transaction_event_handle's costs) is split
    by its caller into the write (batched) and the read (run after)."""

    def __init__(self, *, max_batch: int = 200) -> None:
        super().__init__(max_batch=max_batch)
        # A thread (and so a database connection) of its own: the frames' group commit
        # runs on the shared database thread at the same time. Half of each batch's time
        # is spent waiting for PostgreSQL, so two connections keep twice the work going.
        # Each charger sends one frame at a time, so the two never write the same
        # charger's rows at once.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpp-services")

    def executor(self) -> ThreadPoolExecutor:
        return self._thread

    def _process(self, calls: list[tuple[Callable, dict]]) -> tuple[list[Outcome], list[dict]]:
        _skip_while_database_down()
        self._hygiene()
        outcomes: list[Outcome] = []
        with collecting() as states:
            try:
                with transaction.atomic():
                    for function, kwargs in calls:
                        outcomes.append(_call_in_savepoint(function, kwargs))
            except Exception as error:
                self._failed(error)
                return [(False, error)] * len(calls), []
        database_outage.succeeded()
        return outcomes, states

    async def __call__(self, function: Callable, kwargs: dict) -> Any:
        return await self._submit((function, kwargs))


def _call_in_savepoint(function: Callable, kwargs: dict) -> tuple[bool, Any]:
    try:
        with transaction.atomic():
            return True, function(**kwargs)
    except Exception as error:
        if is_database_unavailable(error):
            raise  # fails the whole batch: nothing after it can be stored either
        return False, error


_service_batches: dict[int, ServiceBatch] = {}


async def run_service(function: Callable, **kwargs) -> Any:
    """Call a (sync, transactional) service from async code: batched with the service
    calls of other coroutines into one transaction (ServiceBatch), each in its own
    savepoint; returns once that transaction committed. The live states it published
    are sent after the answer, without holding up the caller."""
    key = id(asyncio.get_running_loop())
    batch = _service_batches.get(key)
    if batch is None:
        batch = _service_batches[key] = ServiceBatch()
    return await batch(function, kwargs)


async def run_read(function: Callable, **kwargs) -> Any:
    """Call a (sync) read outside any batch's transaction, e.g. what must see a batched
    write's after-commit work (transaction_event_costs after pricing)."""
    result, states = await _call_collecting(function, kwargs)
    if states:
        asyncio.get_running_loop().create_task(publish_many_async(states))
    return result


@database_sync_to_async
def _call_collecting(function: Callable, kwargs: dict) -> tuple[Any, list[dict]]:
    with collecting() as states:
        result = function(**kwargs)
    return result, states


class BatchedCall(_Lane):
    """Many coroutines call one set-based (sync, transactional) service: the items queued
    while one database hop runs go together in the next, as one call of
    `function(**{argument: [item, ...]})`, which returns one result per item, in order.
    Used at connect and disconnect, where a fleet reconnecting otherwise costs a few
    queries per charger on the single database thread (issue 3: admission stopped near
    200 connects/s), and for boots, Authorize, starts and stops. If the set call fails,
    its items are retried one by one, so one bad item fails only its own caller."""

    def __init__(self, function: Callable, argument: str, *, max_batch: int = 500) -> None:
        super().__init__(max_batch=max_batch)
        self._function = function
        self._name = getattr(function, "__name__", repr(function))
        self._argument = argument

    def executor(self) -> ThreadPoolExecutor | None:
        # The admission lane: a thread and connection of its own, shared by every
        # BatchedCall of the process (connect, boot, Authorize, start, stop,
        # online/offline), not the shared database thread: a handshake waited there behind
        # the frames' group commit (issue 20: during a storm, handshakes passed daphne's 5 s
        # timeout). On SQLite, which lets one writer in at a time, a lane of its own only
        # adds waits for the database lock (handshakes timed out in the e2e tests).
        return _admission_lane() if connection.vendor == "postgresql" else None

    def _process(self, items: list) -> tuple[list[Outcome], list[dict]]:
        self._hygiene()
        with collecting() as states:
            try:
                _skip_while_database_down()
                results = self._function(**{self._argument: items})
                if len(results) != len(items):
                    raise RuntimeError(f"{self._name} answered {len(results)} results for {len(items)} items")
                database_outage.succeeded()
                return [(True, result) for result in results], states
            except Exception as exc:
                self._failed(exc)
                if len(items) == 1 or is_database_unavailable(exc):
                    return [(False, exc)] * len(items), states
                logger.warning("%s for %d items failed; retrying one by one", self._name, len(items), exc_info=True)
        outcomes: list[Outcome] = []
        with collecting() as states:
            for item in items:
                try:
                    outcomes.append((True, self._function(**{self._argument: [item]})[0]))
                except Exception as exc:
                    outcomes.append((False, exc))
        return outcomes, states

    async def __call__(self, item: Any) -> Any:
        return await self._submit(item)


_lane: ThreadPoolExecutor | None = None


def _admission_lane() -> ThreadPoolExecutor:
    global _lane
    if _lane is None:
        _lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpp-admission")
    return _lane


_batched_calls: dict[tuple[int, Callable], BatchedCall] = {}


async def run_service_many(function: Callable, argument: str, item: Any) -> Any:
    """Call a set-based service for one item; items from coroutines arriving together
    share one call and one database hop (BatchedCall). Returns this item's result."""
    key = (id(asyncio.get_running_loop()), function)
    batched = _batched_calls.get(key)
    if batched is None:
        batched = _batched_calls[key] = BatchedCall(function, argument)
    return await batched(item)
