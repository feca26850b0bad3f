"""Driver events on NATS.

When NATS_URL is set, every driver event is also published to `<prefix>.<user id>.<KIND>`
(default prefix "drivers"), and the app gets a `nats` block to subscribe with.

Credential scheme: each driver's NATS user is `driver-<user id>` and its password is
HMAC-SHA256(NATS_DRIVER_SECRET or SECRET_KEY, user name), hex, first 32 characters. Nothing
is stored: the server derives the same password any time, and so can the nats-server
configuration (see `python manage.py nats_driver_users`, which prints an authorization
block that lets each driver subscribe only to `<prefix>.<own id>.>`). Rotating the secret
rotates every driver's password.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from drivers.events import driver_topic, event_json, event_subject

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 5.0


def nats_user(user_id: int) -> str:
    return f"driver-{user_id}"


def nats_password(user_id: int) -> str:
    secret = (settings.NATS_DRIVER_SECRET or settings.SECRET_KEY).encode()
    return hmac.new(secret, nats_user(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def public_servers() -> str:
    if settings.NATS_PUBLIC_SERVERS:
        return settings.NATS_PUBLIC_SERVERS
    return ",".join(_without_credentials(url.strip()) for url in settings.NATS_URL.split(",") if url.strip())


def nats_block(user_id: int) -> dict | None:
    """The seed's `nats` block for one driver, or None when NATS is not configured."""
    if not settings.NATS_URL:
        return None
    return {
        "servers": public_servers(),
        "topic": driver_topic(user_id),
        "user": nats_user(user_id),
        "pass": nats_password(user_id),
    }


async def _log_error(error: Exception) -> None:
    logger.warning("NATS: %s", error)


class NatsPublisher:
    """One NATS connection per process, driven by its own event loop in a daemon thread, so
    synchronous code (views, Celery tasks) can publish without an event loop of its own."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._client = None
        self._url: str | None = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked worker inherits the object but not the thread: start a new one.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="nats-publisher", daemon=True).start()
                self._loop, self._pid, self._client = loop, os.getpid(), None
            return self._loop

    async def _publish(self, url: str, subject: str, payload: bytes) -> None:
        import nats

        if self._client is None or self._client.is_closed or self._url != url:
            if self._client is not None and not self._client.is_closed:
                await self._client.close()
            self._client = await nats.connect(
                servers=[u.strip() for u in url.split(",") if u.strip()],
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                name="csms-drivers",
                error_cb=_log_error,
            )
            self._url = url
        await self._client.publish(subject, payload)
        await self._client.flush(timeout=2)

    def publish(self, subject: str, payload: bytes) -> None:
        future = asyncio.run_coroutine_threadsafe(
            self._publish(settings.NATS_URL, subject, payload),
            self._event_loop(),
        )
        future.result(PUBLISH_TIMEOUT)


publisher = NatsPublisher()


def publish_driver_event(user_id: int, kind: str, data: dict) -> None:
    """payments.events hook: publish one driver event to NATS (no-op without NATS_URL)."""
    if not settings.NATS_URL:
        return
    publisher.publish(event_subject(user_id, kind), event_json(data))


def register_publisher() -> bool:
    """Hook the publisher into payments.events when NATS is configured."""
    if not settings.NATS_URL:
        return False
    from payments.events import register

    register(publish_driver_event)
    return True
