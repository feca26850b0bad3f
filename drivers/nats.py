"""Driver events on NATS.

When NATS_URL is set, every driver event is also published to `<prefix>.<user id>.<KIND>`
(default prefix "drivers"), and the app gets a `nats` block to subscribe with.

Credential scheme: each driver's NATS user is `driver-<user id>` and its password is
HMAC-SHA256(NATS_DRIVER_SECRET or SECRET_KEY, user name), hex, first 32 characters. Nothing
is stored: the server derives the same password any time, and so can the nats-server
configuration (see `python manage.py nats_driver_users`, which prints an authorization
block that lets each driver subscribe only to `<prefix>.<own id>.>`). Rotating the secret
rotates every driver's password.

Publishing goes through the process's one connection and never blocks the caller
(drivers/nats_publisher.py: a bounded outbox, one sender, one log line per outage).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from drivers.events import driver_topic, event_json, event_subject
from drivers.nats_publisher import NatsPublisher, server_list, without_credentials


def nats_user(user_id: int) -> str:
    return f"driver-{user_id}"


def nats_password(user_id: int) -> str:
    secret = (settings.NATS_DRIVER_SECRET or settings.SECRET_KEY).encode()
    return hmac.new(secret, nats_user(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def public_servers() -> str:
    if settings.NATS_PUBLIC_SERVERS:
        return settings.NATS_PUBLIC_SERVERS
    return ",".join(without_credentials(url) for url in server_list(settings.NATS_URL))


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


publisher = NatsPublisher()


def publish_driver_event(user_id: int, kind: str, data: dict) -> None:
    """payments.events hook: queue one driver event for NATS and return at once (no-op
    without NATS_URL). It never waits on NATS, up or down (see drivers/nats_publisher.py)."""
    if not settings.NATS_URL:
        return
    publisher.publish(event_subject(user_id, kind), event_json(data))


def register_publisher() -> bool:
    """Hook the publisher into payments.events when NATS is configured."""
    if not settings.NATS_URL:
        return False
    if settings.NATS_OUTBOX_LIMIT < 1:
        raise ImproperlyConfigured(f"NATS_OUTBOX_LIMIT must be at least 1, got {settings.NATS_OUTBOX_LIMIT}")
    from payments.events import register

    register(publish_driver_event)
    return True
