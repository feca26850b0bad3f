"""How billing reacts to sessions_app (which may not import billing: it sits below it)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.dispatch import receiver
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.channel_layer import REDIS_ERRORS
from accounts.outages import redis_outage
from billing import selectors, services
from sessions_app.signals import register_running_cost, session_completed

logger = logging.getLogger(__name__)


@receiver(session_completed, dispatch_uid="billing-price-completed-session")
def price_completed_sessions(sender, *, session_ids: list[int], answer_waits: bool = True, **kwargs) -> None:
    if answer_waits:  # (an OCPP 2.0.1 Ended: its answer's totalCost is read right after)
        for session_id in session_ids:
            services.purchase_create_for_session(session_id=session_id)
        return
    # Nobody waits for this price: a worker computes it, not the web process's service
    # thread, which every charger's start and stop queue behind (issue 20: pricing was a
    # third of that thread under a fleet's churn). create_missing_purchases (beat) catches
    # a task that was lost.
    from billing.tasks import purchase_create_for_session_task, purchase_create_for_sessions_task

    if (
        not settings.CELERY_TASK_ALWAYS_EAGER and redis_outage.should_skip()
    ):  # (no publish retries on the charger's thread)
        logger.warning("sessions %s: pricing left to create_missing_purchases (Redis is down)", session_ids)
        return
    try:
        # One message for the stops written together (one Redis round trip on the thread
        # that wrote them, not one per stop).
        if len(session_ids) == 1:
            purchase_create_for_session_task.delay(session_ids[0])
        else:
            purchase_create_for_sessions_task.delay(session_ids)
    except (*REDIS_ERRORS, KombuOperationalError) as error:
        redis_outage.failed(error)
        logger.warning("sessions %s: pricing left to create_missing_purchases (Redis is down)", session_ids)


def connect() -> None:
    register_running_cost(lambda *, session: selectors.session_running_cost(session=session))
