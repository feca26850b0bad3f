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
    """Beat: ask providers about pending invoices; give up those past their TTL.

    Twice is once: a result is applied under the payment's row lock, only from pending
    (a top-up credits the wallet under a unique idempotency key); cancelling an invoice
    the provider already cancelled changes nothing."""
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
    """Ask the provider about one payment. Twice is once, as poll_pending_payments."""
    try:
        return services.payment_refresh(payment_id=payment_id)
    except ProviderError as exc:
        raise self.retry(exc=exc)


@shared_task
def sandbox_notify(reference: str, event_id: str) -> str:
    """The sandbox provider's "webhook" after a decision on its pay page.

    Twice is once: the event is stored once (unique per provider and event id) and an
    event stored but not processed (a lost run) is applied again, by conditional updates."""
    return services.sandbox_notification_handle(reference=reference, event_id=event_id)


@shared_task(bind=True, max_retries=10, default_retry_delay=60)
def settle_reservation_for_session(self, session_id: int) -> str | None:
    """Capture a finished pre-paid session. Billing queues this after pricing it.
    Returns the reservation's status, None when there is nothing to settle (yet).

    Twice is once: the capture amount is claimed once and the provider is asked under one
    idempotency key, so a run repeated after the provider took the money records that
    one capture (services.reservation_settle_for_session)."""
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
    """Stop a pre-paid session at its energy limit. Twice is harmless: a stop is sent at
    most every two minutes per reservation (a cache key), and a charger refuses to stop a
    transaction that has ended."""
    return services.reservation_check_energy_limit(session_id=session_id)


@shared_task
def enforce_reservation_energy_limits() -> int:
    """Beat: check_reservation_energy_limit for every pre-paid active session (twice is
    harmless, as there)."""
    return services.reservation_enforce_energy_limits()


@shared_task
def release_stale_reservations() -> int:
    """Beat: release reservations that never led to a session. Twice is once: the provider
    is asked under one idempotency key per reservation and the status moves by a
    conditional update."""
    return services.reservation_release_stale()
