"""A test-only Celery task for the worker-loss test (tests/config/test_celery_worker_loss.py),
loaded by that test's workers with `-I tests.support.celery_burst`.

Each run credits the driver's wallet 1.00 under the idempotency key `burst-<number>`: the
wallet ledger's unique key records the effect once, however often the task runs. Each run
also notes in the broker's Redis when it started, and which phase each pool process is in
(before or after the credit), so the test can kill a process in the middle of a task and
count the runs.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal

import redis
from celery import shared_task
from django.conf import settings

from billing.wallet import wallet_credit

RUNS = "burst:runs"  # a list of "<number> <start time>", one entry per run
PHASES = "burst:phases"  # a hash: pool process id -> "<number> before|after"
PHASE_SECONDS = 0.1


def key(number: int) -> str:
    return f"burst-{number}"


@shared_task(name="tests.support.celery_burst.credit_once")
def credit_once(*, user_id: int, number: int) -> None:
    """Credit 1.00 once for `number`. Twice is once: the ledger's idempotency key."""
    broker = redis.Redis.from_url(settings.REDIS_URL)
    pid = os.getpid()
    broker.rpush(RUNS, f"{number} {time.time()}")
    broker.hset(PHASES, pid, f"{number} before")
    time.sleep(PHASE_SECONDS)
    wallet_credit(user_id=user_id, amount=Decimal("1.00"), idempotency_key=key(number), note="worker-loss test")
    broker.hset(PHASES, pid, f"{number} after")
    # Acknowledged only after this: a process lost here has recorded its effect already.
    time.sleep(PHASE_SECONDS)
    broker.hdel(PHASES, pid)
