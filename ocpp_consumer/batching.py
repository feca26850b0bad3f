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


class GroupCommitter:
    """`own_thread`: flush on a thread (and database connection) of this committer's own
    instead of the shared database thread, for a small lane that must not queue behind
    the frames' batches (the journal rows of commands, issue 20)."""

    def __init__(self, flush: Callable[[list], Any], *, max_batch: int = 500, own_thread: str = "") -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._items: list = []
        self._futures: list[asyncio.Future] = []
        self._running = False
        self._hygiene_due = 0.0
        self._executor: ThreadPoolExecutor | None = None
        if own_thread and connection.vendor == "postgresql":  # (SQLite: one writer at a time anyway)
            executor = self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=own_thread)

            async def run(items: list) -> list[dict]:
                return await asyncio.get_running_loop().run_in_executor(executor, self._flush_collecting, items)

            self._run_in_db_thread = run
        else:
            self._run_in_db_thread = sync_to_async(self._flush_collecting, thread_sensitive=True)

    def _flush_collecting(self, items: list) -> list[dict]:
        # Connection hygiene as channels' database_sync_to_async does it (close_old_connections:
        # drop a broken or expired connection), but at most once per CONNECTION_CHECK_EVERY
        # seconds and after any failure, instead of twice per flush: with CONN_HEALTH_CHECKS
        # each of those also cost a SELECT 1 round trip on the next query (issue 3's profile:
        # a tenth of the database thread at 500 frames/s).
        _skip_while_database_down()
        now = time.monotonic()
        if now >= self._hygiene_due:
            close_old_connections()
            self._hygiene_due = now + CONNECTION_CHECK_EVERY
        try:
            with collecting() as states:
                self._flush(items)
        except Exception as error:
            self._hygiene_due = 0.0
            _note_failure(error)
            raise
        database_outage.succeeded()
        return states

    async def submit(self, item: Any) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._items.append(item)
        self._futures.append(future)
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        futures: list[asyncio.Future] = []
        try:
            while self._items:
                items, futures = self._items[: self._max_batch], self._futures[: self._max_batch]
                del self._items[: self._max_batch], self._futures[: self._max_batch]
                try:
                    states = await self._run_in_db_thread(items)
                except Exception as error:
                    if len(items) == 1 or is_database_unavailable(error):
                        raise
                    # One bad item must not fail the others: retry them one by one.
                    logger.warning("group commit of %d items failed; retrying one by one", len(items), exc_info=True)
                    states = []
                    for item, future in zip(items, futures):
                        try:
                            states += await self._run_in_db_thread([item])
                        except Exception as exc:
                            future.set_exception(exc)
                        else:
                            future.set_result(None)
                else:
                    for future in futures:
                        if not future.done():
                            future.set_result(None)
                if states:
                    asyncio.get_running_loop().create_task(publish_many_async(states))
            if self._executor is not None:  # idle: its connection goes back to the pool
                await asyncio.get_running_loop().run_in_executor(self._executor, connections.close_all)
        except Exception as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._running = False
            if self._items:  # arrived after the loop's last check
                self._running = True
                asyncio.get_running_loop().create_task(self._drain())


_committers: dict[tuple[int, str], GroupCommitter] = {}


def committer(name: str, flush: Callable[[list], Any], *, own_thread: bool = False) -> GroupCommitter:
    """The process's committer for `name` on the running event loop (with `own_thread`, on
    a thread of its own, see GroupCommitter)."""
    key = (id(asyncio.get_running_loop()), name)
    found = _committers.get(key)
    if found is None:
        found = _committers[key] = GroupCommitter(flush, own_thread=f"ocpp-{name}" if own_thread else "")
    return found


class ServiceBatch:
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
        self._max_batch = max_batch
        self._pending: list[tuple[Callable, dict, asyncio.Future]] = []
        self._running = False
        self._hygiene_due = 0.0
        # A thread (and so a database connection) of its own: the frames' group commit
        # runs on the shared database thread at the same time. Half of each batch's time
        # is spent waiting for PostgreSQL, so two connections keep twice the work going.
        # Each charger sends one frame at a time, so the two never write the same
        # charger's rows at once.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpp-services")

    async def _run_in_db_thread(self, calls: list[tuple[Callable, dict]]) -> tuple[list[tuple[bool, Any]], list[dict]]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, calls)

    def _run(self, calls: list[tuple[Callable, dict]]) -> tuple[list[tuple[bool, Any]], list[dict]]:
        _skip_while_database_down()
        now = time.monotonic()
        if now >= self._hygiene_due:  # (as GroupCommitter: at most once a second)
            close_old_connections()
            self._hygiene_due = now + CONNECTION_CHECK_EVERY
        outcomes: list[tuple[bool, Any]] = []
        with collecting() as states:
            try:
                with transaction.atomic():
                    for function, kwargs in calls:
                        outcomes.append(_call_in_savepoint(function, kwargs))
            except Exception as error:
                self._hygiene_due = 0.0
                _note_failure(error)
                return [(False, error)] * len(calls), []
        database_outage.succeeded()
        return outcomes, states

    async def __call__(self, function: Callable, kwargs: dict) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((function, kwargs, future))
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
                    outcomes, states = await self._run_in_db_thread([(f, kw) for f, kw, _ in batch])
                except Exception as exc:  # (the database was skipped as down)
                    outcomes, states = [(False, exc)] * len(batch), []
                for (_, _, future), (ok, value) in zip(batch, outcomes):
                    if future.done():  # the caller went away (cancelled)
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                if states:
                    asyncio.get_running_loop().create_task(publish_many_async(states))
            # Idle: the thread's connection goes back to the pool (as at a request's end).
            await asyncio.get_running_loop().run_in_executor(self._thread, connections.close_all)
        finally:
            self._running = False
            if self._pending:
                self._running = True
                asyncio.get_running_loop().create_task(self._drain())


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


class BatchedCall:
    """Many coroutines call one set-based (sync, transactional) service: the items queued
    while one database hop runs go together in the next, as one call of
    `function(**{argument: [item, ...]})`, which returns one result per item, in order.
    Used at connect and disconnect, where a fleet reconnecting otherwise costs a few
    queries per charger on the single database thread (issue 3: admission stopped near
    200 connects/s). If the set call fails, its items are retried one by one, so one bad
    item fails only its own caller."""

    def __init__(self, function: Callable, argument: str, *, max_batch: int = 500) -> None:
        self._function = function
        self._name = getattr(function, "__name__", repr(function))
        self._argument = argument
        self._max_batch = max_batch
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._running = False
        self._hygiene_due = 0.0

    async def _run_in_db_thread(self, items: list) -> tuple[list[tuple[bool, Any]], list[dict]]:
        # The admission lane: a thread and connection of its own, shared by every
        # BatchedCall of the process (connect, boot, Authorize, online/offline), not the
        # shared database thread: a handshake waited there behind the frames' group commit
        # (issue 20: during a storm, handshakes passed daphne's 5 s timeout).
        # On SQLite, which lets one writer in at a time, a lane of its own only adds waits
        # for the database lock (handshakes timed out in the e2e tests): the shared thread.
        if connection.vendor != "postgresql":
            return await sync_to_async(self._call, thread_sensitive=True)(items)
        return await asyncio.get_running_loop().run_in_executor(_admission_lane(), self._call, items)

    def _call(self, items: list) -> tuple[list[tuple[bool, Any]], list[dict]]:
        """(Connection hygiene as GroupCommitter: at most once a second.)"""
        now = time.monotonic()
        if now >= self._hygiene_due:
            close_old_connections()
            self._hygiene_due = now + CONNECTION_CHECK_EVERY
        with collecting() as states:
            try:
                _skip_while_database_down()
                results = self._function(**{self._argument: items})
                if len(results) != len(items):
                    raise RuntimeError(f"{self._name} answered {len(results)} results for {len(items)} items")
                database_outage.succeeded()
                return [(True, result) for result in results], states
            except Exception as exc:
                self._hygiene_due = 0.0
                _note_failure(exc)
                if len(items) == 1 or is_database_unavailable(exc):
                    return [(False, exc)] * len(items), states
                logger.warning("%s for %d items failed; retrying one by one", self._name, len(items), exc_info=True)
        outcomes: list[tuple[bool, Any]] = []
        with collecting() as states:
            for item in items:
                try:
                    outcomes.append((True, self._function(**{self._argument: [item]})[0]))
                except Exception as exc:
                    outcomes.append((False, exc))
        return outcomes, states

    async def __call__(self, item: Any) -> Any:
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
                    outcomes, states = await self._run_in_db_thread([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), (ok, value) in zip(batch, outcomes):
                    if future.done():  # the caller went away (cancelled)
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                if states:
                    asyncio.get_running_loop().create_task(publish_many_async(states))
            # Idle: the lane's connection goes back to the pool (as at a request's end).
            if connection.vendor == "postgresql":
                await asyncio.get_running_loop().run_in_executor(_admission_lane(), connections.close_all)
        finally:
            self._running = False
            if self._pending:
                self._running = True
                asyncio.get_running_loop().create_task(self._drain())


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
