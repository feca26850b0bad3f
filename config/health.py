"""Liveness and readiness: answers 200 only when the database and Redis both answer.

With NATS_URL set the answer also has a `nats` entry (the publisher's state, events waiting
and dropped); NATS is optional, so it never turns the answer into a 503."""

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


def health(request):
    checks = {}
    healthy = True
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        started = time.monotonic()
        try:
            checks[name] = {"status": check(), "ms": round((time.monotonic() - started) * 1000, 1)}
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, and we say which
            healthy = False
            # Public endpoint: the exception's text (host names, credentials in URLs) goes
            # to the log under a reference, not into the answer.
            reference = uuid.uuid4().hex[:12]
            logger.error("health: %s check failed [error %s]", name, reference, exc_info=True)
            checks[name] = {"status": "error", "error": f"{type(exc).__name__} (reference {reference})"}
    if settings.NATS_URL:
        checks["nats"] = _nats_status()
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


def _nats_status() -> dict:
    """This process's NATS publisher as it stands (no network call: it only reads counters)."""
    from drivers.nats import publisher

    return publisher.status()
