"""Beat jobs of the OCPP area: journal retention, the offline sweep and the expiry of
connector reservations."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from chargepoints import reservations, services

logger = logging.getLogger(__name__)


@shared_task
def ocpp_journal_purge() -> int | None:
    """Delete journal frames past their retention. Twice is once: a frame is deleted once.

    A backlog larger than one run can delete within its time limit is left for the next
    hourly runs: each batch is its own transaction, so stopping between batches (or in one,
    rolled back) loses nothing."""
    days = settings.OCPP_JOURNAL_RETENTION_DAYS
    try:
        return services.ocpp_message_purge(older_than=timezone.now() - timedelta(days=days))
    except SoftTimeLimitExceeded:
        logger.info("journal purge stopped at its time limit; the next run continues")
        return None


@shared_task
def charge_point_offline_sweep() -> list[str]:
    """Twice is once: a charger is marked offline by a conditional update (not heard from
    since it was found silent), and only a charger that changed is published."""
    return services.charge_point_offline_sweep()


@shared_task
def connector_reservations_expire() -> int:
    """Live connector reservations past their expiry become expired. Twice is once: a
    conditional update ends each row once."""
    return reservations.connector_reservations_expire()
