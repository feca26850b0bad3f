"""Health: "ok" when the database and Redis both answer; "degraded" (still 200) when only
Redis is down, because chargers are still served (frames answered and stored) while
commands and live views wait for it; "error" (503) when the database is down.
`down` names what is unavailable.

With NATS_URL set the answer also has a `nats` entry (the publisher's state, events waiting
and dropped); NATS is optional, so it never changes the status or the code."""

from __future__ import annotations

import logging
import time
import uuid

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


# What each dependency's failure means for the whole: the database is required, Redis is not.
_REQUIRED = {"database": True, "redis": False}


def health(request):
    checks = {}
    down = []
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        started = time.monotonic()
        try:
            checks[name] = {"status": check(), "ms": round((time.monotonic() - started) * 1000, 1)}
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, and we say which
            down.append(name)
            # Public endpoint: the exception's text (host names, credentials in URLs) goes
            # to the log under a reference, not into the answer.
            reference = uuid.uuid4().hex[:12]
            logger.error("health: %s check failed [error %s]", name, reference, exc_info=True)
            checks[name] = {"status": "error", "error": f"{type(exc).__name__} (reference {reference})"}
    if settings.NATS_URL:
        checks["nats"] = _nats_status()
    if any(_REQUIRED[name] for name in down):
        overall, code = "error", 503
    elif down:
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    return JsonResponse({"status": overall, "down": down, "checks": checks}, status=code)


def _nats_status() -> dict:
    """This process's NATS publisher as it stands (no network call: it only reads counters)."""
    from drivers.nats import publisher

    return publisher.status()
