"""Chargers of a dead web process go offline everywhere within a minute.

A web process that dies without closing its sockets (kill -9, a lost host) leaves its
chargers registered and marked online. Its liveness key in Redis expires after
OCPP_PROCESS_TTL; then any surviving web process (in its keep-alive loop, every third of
the TTL) or beat (ocpp_consumer.tasks, every OCPP_DEAD_PROCESS_SWEEP_SECONDS) removes those
registrations and marks the chargers offline in the database, unless one was heard from
since the sweep began (it reconnected to another process meanwhile). Commands to them
answer ChargerOffline at once: registry.lookup checks the process key too.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from accounts.channel_layer import RedisUnavailable
from chargepoints.services import charge_point_mark_gone_many
from ocpp_consumer import registry

logger = logging.getLogger(__name__)


def sweep() -> list[str]:
    """One sweep, synchronous (beat): the identities marked offline."""
    swept_at = timezone.now()
    gone = registry.sweep_dead_processes()
    return charge_point_mark_gone_many(identities=gone, not_seen_since=swept_at) if gone else []


def _alive_and_sweep_redis() -> list[str]:
    registry.mark_alive()
    return registry.sweep_dead_processes()


async def keep_alive() -> None:
    """This process's liveness key and the sweep of dead processes, forever (the OCPP
    consumer starts one per process)."""
    while True:
        try:
            swept_at = timezone.now()
            gone = await sync_to_async(_alive_and_sweep_redis, thread_sensitive=False)()
            if gone:
                marked = await database_sync_to_async(charge_point_mark_gone_many)(
                    identities=gone, not_seen_since=swept_at
                )
                logger.warning("marked %d charger(s) of a dead web process offline", len(marked))
        except RedisUnavailable:
            pass  # (logged once per outage by accounts.channel_layer.redis_outage)
        except Exception:
            logger.warning("OCPP process keep-alive failed", exc_info=True)
        await asyncio.sleep(settings.OCPP_PROCESS_TTL / 3)
