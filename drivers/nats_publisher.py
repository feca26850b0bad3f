"""The process's one NATS connection, fed from a bounded in-memory outbox.

`NatsPublisher.publish` never waits on the network: it appends the event to the outbox and
returns, so a request or a Celery task is never held up by NATS. One sender coroutine, on an
event loop in a daemon thread of its own (started on first use, again after a fork), owns the
only connection of the process: it connects, sends the outbox in order, and when the
connection breaks it closes it and connects again (0.25 s between rounds, doubling up to
NATS_RECONNECT_MAX_WAIT; a connection that breaks soon after opening does not reset that).
Nothing else ever connects, so a process holds at most one NATS connection, and events
leave in the order they were published (so per driver, too).

While NATS is unreachable the outbox holds up to NATS_OUTBOX_LIMIT events. Past that the
*oldest* are dropped and counted: a driver's newest state (the latest CHARGING figures, the
latest PAYMENT result) is worth more than an older one, and what is kept stays in order.
The log says when NATS goes down (one warning) and when it is back (one info line with the
number of events dropped meanwhile), never once per event.

Delivery is at most once: an event written to a connection that breaks before the server
has it can be lost. An event the server refuses (a bad subject, too large) is dropped and
logged; it would never go through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import deque
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

logger = logging.getLogger(__name__)

CLIENT_NAME = "csms-drivers"
CONNECT_TIMEOUT = 2.0
FLUSH_TIMEOUT = 2.0
CLOSE_TIMEOUT = 2.0
FIRST_RECONNECT_WAIT = 0.25
STABLE_CONNECTION_SECONDS = 10.0
BATCH_SIZE = 500

Event = tuple[str, bytes]


def without_credentials(url: str) -> str:
    """A NATS URL without user and password, fit for a log line or a client."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def server_list(url: str) -> list[str]:
    return [part.strip() for part in url.split(",") if part.strip()]


def _servers_for_log(url: str) -> str:
    return ",".join(without_credentials(part) for part in server_list(url))


class Outbox:
    """A FIFO shared by the publishing threads and the sender; when full, the oldest event goes."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"NATS_OUTBOX_LIMIT must be at least 1, got {limit}")
        self.limit = limit
        self.dropped = 0
        self._events: deque[Event] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._events)

    def put(self, event: Event) -> bool:
        """Append an event; True when the outbox was empty (the sender may be asleep)."""
        with self._lock:
            was_empty = not self._events
            if len(self._events) >= self.limit:
                self._events.popleft()
                self.dropped += 1
            self._events.append(event)
            return was_empty

    def take(self) -> Event | None:
        with self._lock:
            return self._events.popleft() if self._events else None

    def put_back(self, event: Event) -> None:
        """Return an unsent event to the head; when the outbox filled up meanwhile it is the
        oldest event, so it is the one dropped."""
        with self._lock:
            if len(self._events) >= self.limit:
                self.dropped += 1
            else:
                self._events.appendleft(event)

    def count_dropped(self) -> None:
        with self._lock:
            self.dropped += 1

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self._events)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_forever()
    loop.close()


class ConnectionBroken(Exception):
    """The NATS connection is gone; the sender closes it and connects again."""


class NatsPublisher:
    """Publishes driver events through the process's single NATS connection (see module doc)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: Outbox | None = None
        self._wakeup: asyncio.Event | None = None
        self._sender: asyncio.Task | None = None
        self._state = "not started"
        self._dropped_reported = 0
        self._overflowing = False
        self.sent = 0
        self.connect_rounds = 0

    # --- the caller's side: never blocks ---------------------------------------------------

    def publish(self, subject: str, payload: bytes) -> None:
        """Queue one event for NATS and return at once."""
        outbox, loop = self._started()
        if outbox.put((subject, payload)):
            loop.call_soon_threadsafe(self._wake)

    def status(self) -> dict:
        """What the health view shows: connection state, events waiting, events dropped."""
        outbox = self._own_outbox()
        if outbox is None:
            return {"status": "not started", "queued": 0, "dropped": 0, "sent": 0}
        return {"status": self._state, "queued": len(outbox), "dropped": outbox.dropped, "sent": self.sent}

    def queued(self) -> list[Event]:
        """The events waiting to be sent, oldest first."""
        outbox = self._own_outbox()
        return outbox.snapshot() if outbox is not None else []

    def _own_outbox(self) -> Outbox | None:
        """This process's outbox; None before the first publish (or in a fresh fork)."""
        return self._outbox if self._pid == os.getpid() else None

    def _started(self) -> tuple[Outbox, asyncio.AbstractEventLoop]:
        with self._lock:
            # A forked process inherits this object but not the thread: it starts its own
            # sender (and connection) and leaves the parent's queued events to the parent.
            if self._pid != os.getpid():
                outbox = Outbox(settings.NATS_OUTBOX_LIMIT)
                loop = asyncio.new_event_loop()
                self._outbox, self._loop, self._wakeup = outbox, loop, asyncio.Event()
                self._state, self.sent, self.connect_rounds, self._pid = "connecting", 0, 0, os.getpid()
                self._dropped_reported, self._overflowing = 0, False
                threading.Thread(target=_serve, args=(loop,), name="nats-publisher", daemon=True).start()
                asyncio.run_coroutine_threadsafe(self._run(), loop)
            return self._outbox, self._loop

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sender, close its connection and end its thread; waiting events are
        discarded. For tests and shutdown: unlike publish, this waits (up to `timeout`)."""
        with self._lock:
            if self._pid != os.getpid():
                return
            loop, self._pid = self._loop, None
        asyncio.run_coroutine_threadsafe(self._stop_sender(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)

    async def _stop_sender(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    def _wake(self) -> None:
        self._wakeup.set()

    # --- the sender: the only coroutine that connects --------------------------------------

    async def _run(self) -> None:
        self._sender = asyncio.current_task()
        loop = asyncio.get_running_loop()
        wait = FIRST_RECONNECT_WAIT
        while True:
            url = settings.NATS_URL
            client = await self._connect(url) if url else None
            if client is not None:
                up_since = loop.time()
                await self._serve_connection(client, url)
                if loop.time() - up_since >= STABLE_CONNECTION_SECONDS:
                    # A connection that served a while broke: try again at once. One that
                    # breaks soon after connecting keeps the back-off growing instead.
                    wait = FIRST_RECONNECT_WAIT
                    continue
            await asyncio.sleep(wait)
            wait = min(wait * 2, settings.NATS_RECONNECT_MAX_WAIT)

    async def _serve_connection(self, client, url: str) -> None:
        """Send through `client` until it breaks (or NATS_URL changes), then close it."""
        self._came_up(url)
        try:
            await self._send_until_broken(client, url)
        except ConnectionBroken as broken:
            self._went_down(url, broken.__cause__ or broken)
        except Exception as error:  # noqa: BLE001 - a bug here must not stop the sender for good
            logger.exception("NATS: the sender failed; connecting again")
            self._went_down(url, error)
        finally:
            await self._close(client)

    async def _connect(self, url: str):
        from nats.aio.client import Client

        client = Client()
        self.connect_rounds += 1
        try:
            await client.connect(
                servers=server_list(url),
                name=CLIENT_NAME,
                connect_timeout=CONNECT_TIMEOUT,
                # This coroutine owns reconnecting: the client tries each server at most
                # twice, then gives up and is closed here, so no retry loop outlives it.
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=self._client_error,
                closed_cb=self._client_closed,
            )
            return client
        except Exception as error:  # noqa: BLE001 - any failure to connect is an outage
            await self._close(client)
            self._went_down(url, error)
            return None
        except asyncio.CancelledError:
            await self._close(client)
            raise

    async def _send_until_broken(self, client, url: str) -> None:
        """Send the outbox in order while the connection lives; return when NATS_URL changed."""
        while settings.NATS_URL == url:
            self._wakeup.clear()
            if not client.is_connected:
                raise ConnectionBroken("the connection was closed") from client.last_error
            if await self._send_batch(client):
                try:
                    await client.flush(timeout=FLUSH_TIMEOUT)
                except Exception as error:
                    raise ConnectionBroken("no answer to a flush") from error
                continue
            self._report_overflow_end()
            await self._wakeup.wait()

    async def _send_batch(self, client) -> int:
        sent = 0
        while sent < BATCH_SIZE and (event := self._outbox.take()) is not None:
            await self._send_one(client, event)
            sent += 1
        self._report_overflow_start()
        return sent

    async def _send_one(self, client, event: Event) -> None:
        subject, payload = event
        try:
            await client.publish(subject, payload)
        except Exception as error:
            if not client.is_connected:
                self._outbox.put_back(event)
                raise ConnectionBroken("publish on a closed connection") from error
            # The connection is fine, so the event itself is refused; it never would pass.
            self._outbox.count_dropped()
            logger.error("NATS: dropped an event on %r that the client refuses: %r", subject, error)
            return
        self.sent += 1

    async def _close(self, client) -> None:
        if client.is_closed:
            return
        try:
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT)
        except Exception:  # noqa: BLE001 - the connection is being abandoned either way
            logger.debug("NATS: closing the connection failed", exc_info=True)

    async def _client_error(self, error: Exception) -> None:
        # Each failed attempt reports here; the state change is logged once by the sender.
        logger.debug("NATS client: %r", error)

    async def _client_closed(self) -> None:
        self._wake()

    # --- one log line per state change -------------------------------------------------------

    def _went_down(self, url: str, error: BaseException) -> None:
        if self._state == "down":
            logger.debug("NATS still unreachable: %r", error)
            return
        self._state, self._overflowing = "down", False
        logger.warning(
            "NATS %s is unreachable (%r); driver events wait in memory, at most %d (the oldest "
            "are dropped first), until it answers",
            _servers_for_log(url),
            error,
            self._outbox.limit,
        )

    def _came_up(self, url: str) -> None:
        if self._state == "down":
            logger.info(
                "NATS %s answers again; %d driver events were dropped while it was down, %d waiting are sent now",
                _servers_for_log(url),
                self._dropped_unreported(),
                len(self._outbox),
            )
        else:
            logger.info("NATS: connected to %s", _servers_for_log(url))
        self._state = "connected"

    def _report_overflow_start(self) -> None:
        """Connected, but events come faster than NATS takes them: say so once."""
        if not self._overflowing and self._outbox.dropped > self._dropped_reported:
            self._overflowing = True
            logger.warning("NATS: driver events come faster than NATS takes them; the oldest are being dropped")

    def _report_overflow_end(self) -> None:
        if self._overflowing:
            self._overflowing = False
            logger.info("NATS: caught up with driver events; %d were dropped", self._dropped_unreported())

    def _dropped_unreported(self) -> int:
        """Events dropped since the last log line that gave a count."""
        dropped = self._outbox.dropped
        count, self._dropped_reported = dropped - self._dropped_reported, dropped
        return count
