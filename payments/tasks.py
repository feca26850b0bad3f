"""Celery tasks: thin wrappers that take ids, call one service, and are safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from payments import services
from payments.errors import ProviderError
from payments.selectors import payments_pending

logger = logging.getLogger(__name__)


@shared_task
def poll_pending_payments() -> dict:
    """Beat: ask providers about pending invoices; give up those past their TTL."""
    cutoff = timezone.now() - timedelta(minutes=settings.PAYMENTS_INVOICE_TTL_MINUTES)
    counts = {"checked": 0, "final": 0, "errors": 0}
    for payment_id, created_at in payments_pending().values_list("pk", "created_at")[:500]:
        try:
            if created_at < cutoff:
                status = services.payment_expire_stale(payment_id=payment_id)
            else:
                status = services.payment_refresh(payment_id=payment_id)
        except ProviderError as exc:
            counts["errors"] += 1
            logger.info("payment %s: poll failed: %s", payment_id, exc)
            continue
        counts["checked"] += 1
        counts["final"] += status != "pending"
    return counts


@shared_task(bind=True, max_retries=5, default_retry_delay=30)
def refresh_payment(self, payment_id: int) -> str:
    try:
        return services.payment_refresh(payment_id=payment_id)
    except ProviderError as exc:
        raise self.retry(exc=exc)


@shared_task
def sandbox_notify(reference: str, event_id: str) -> str:
    """The sandbox provider's "webhook" after a decision on its pay page."""
    return services.sandbox_notification_handle(reference=reference, event_id=event_id)


@shared_task(bind=True, max_retries=10, default_retry_delay=60)
def settle_reservation_for_session(self, session_id: int) -> str | None:
    """Capture a finished pre-paid session. Billing queues this after pricing it.
    Returns the reservation's status, None when there is nothing to settle (yet)."""
    try:
        reservation = services.reservation_settle_for_session(session_id=session_id)
    except ProviderError as exc:
        if exc.retryable:
            raise self.retry(exc=exc)
        logger.error("session %s: capture refused by the provider: %s", session_id, exc)
        return None
    return reservation.status if reservation is not None else None


@shared_task
def check_reservation_energy_limit(session_id: int) -> bool:
    return services.reservation_check_energy_limit(session_id=session_id)


@shared_task
def enforce_reservation_energy_limits() -> int:
    return services.reservation_enforce_energy_limits()


@shared_task
def release_stale_reservations() -> int:
    return services.reservation_release_stale()
