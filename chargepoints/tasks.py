"""Beat jobs of the OCPP area: journal retention and the offline sweep."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from chargepoints import services


@shared_task
def ocpp_journal_purge() -> int:
    days = settings.OCPP_JOURNAL_RETENTION_DAYS
    return services.ocpp_message_purge(older_than=timezone.now() - timedelta(days=days))


@shared_task
def charge_point_offline_sweep() -> list[str]:
    return services.charge_point_offline_sweep()
