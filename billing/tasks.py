"""Celery tasks of the billing app: thin, id-based, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError
from django.db.models import F, Q

from billing.models import Purchase
from billing.services import purchase_create_for_session, purchase_reprice
from sessions_app.models import ChargeSession

logger = logging.getLogger(__name__)


@shared_task(
    name="billing.tasks.purchase_create_for_session",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def purchase_create_for_session_task(session_id: int) -> int:
    """Enqueue with transaction.on_commit(lambda: purchase_create_for_session_task.delay(id)).

    Twice is once: the session row is locked and a session has one purchase (a unique
    constraint); a second run re-prices an open purchase to the same lines."""
    return purchase_create_for_session(session_id=session_id).pk


@shared_task(
    name="billing.tasks.purchase_create_for_sessions",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def purchase_create_for_sessions_task(session_ids: list[int]) -> list[int]:
    """purchase_create_for_session_task for the sessions of stops written together. Each is
    priced even when one before it fails; a failure is raised at the end, a database
    error first, so that a retry prices them all again (twice is once, as there)."""
    priced: list[int] = []
    failure: Exception | None = None
    for session_id in session_ids:
        try:
            priced.append(purchase_create_for_session(session_id=session_id).pk)
        except Exception as error:
            logger.exception("pricing session %s failed", session_id)
            if failure is None or (isinstance(error, OperationalError) and not isinstance(failure, OperationalError)):
                failure = error  # (a database error first: it is the one retried)
    if failure is not None:
        raise failure
    return priced


@shared_task(
    name="billing.tasks.purchase_reprice",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def purchase_reprice_task(purchase_id: int) -> int:
    """Twice is once: pricing replaces the purchase's lines under its row lock, and only an
    open purchase is priced."""
    return purchase_reprice(purchase_id=purchase_id).pk


@shared_task(name="billing.tasks.reprice_stale_purchases")
def reprice_stale_purchases(limit: int = 500) -> int:
    """Open purchases whose session changed after they were priced (late samples).

    Twice is once: each purchase is re-priced as purchase_reprice_task does."""
    stale = (
        Purchase.objects.filter(status=Purchase.Status.OPEN)
        .filter(Q(priced_at__isnull=True) | Q(session__updated_at__gt=F("priced_at")))
        .values_list("id", flat=True)[:limit]
    )
    for purchase_id in stale:
        purchase_reprice(purchase_id=purchase_id)
    return len(stale)


@shared_task(name="billing.tasks.create_missing_purchases")
def create_missing_purchases(limit: int = 500) -> int:
    """Completed sessions that never got their purchase (a lost task).

    Twice is once: each session gets its purchase as purchase_create_for_session_task does."""
    missing = ChargeSession.objects.filter(
        status=ChargeSession.Status.COMPLETED,
        purchase__isnull=True,
    ).values_list("id", flat=True)[:limit]
    ids = list(missing)
    for session_id in ids:
        purchase_create_for_session(session_id=session_id)
    return len(ids)
