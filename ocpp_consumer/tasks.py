"""Beat job of the OCPP consumer: the dead-process sweep (ocpp_consumer.liveness)."""

from __future__ import annotations

from celery import shared_task

from accounts.channel_layer import RedisUnavailable
from ocpp_consumer import liveness


@shared_task(ignore_result=True)
def ocpp_dead_process_sweep() -> list[str]:
    """Idempotent: a second run finds nothing left to sweep."""
    try:
        return liveness.sweep()
    except RedisUnavailable:
        return []
