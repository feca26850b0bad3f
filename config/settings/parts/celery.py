"""Settings of Celery (worker and beat): delivery, time limits and the broker's visibility
timeout. Read from the environment. The broker URL, beat's schedule file and the merged
beat schedule stay in config/settings/base.py (they follow REDIS_URL and VAR_DIR).

Delivery is at least once: a task's message is acknowledged only after the task returned,
so a worker that dies mid-task does not lose it, and every task is written to be safe to
run twice (each task says why in its docstring). How a lost worker's tasks come back
depends on how it was lost (README, "Reliability"):

- a pool process killed (OOM killer, kill -9 of a child): its task is handed back to the
  queue at once (CELERY_TASK_REJECT_ON_WORKER_LOST), at the end of the queue;
- a warm shutdown (SIGTERM): running tasks finish first, so nothing is lost;
- the whole worker killed (kill -9, machine lost): its unacknowledged messages stay in
  Redis until CELERY_VISIBILITY_TIMEOUT has passed since their delivery, then any live or
  newly started worker puts them back (it looks every 10 s).

The visibility timeout must outlast the longest task: Redis hands a message out again once
it has been unacknowledged that long, even when its task is still running. So every task
has a hard time limit, and the timeout is computed from the longest one.
"""

import environ

_env = environ.Env()

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = _env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Delivery ---------------------------------------------------------------------------
# Acknowledge after the task returned, not when it was received.
CELERY_TASK_ACKS_LATE = True
# A pool process that dies mid-task (signal, OOM) puts its message back instead of
# acknowledging it as failed. (A task that kills its process every time comes back every
# time: the worker log shows WorkerLostError for it.)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker reserves one message per pool process (the ones it runs), so a lost worker
# strands few messages; the rest stay in the queue for the other workers.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Time limits (seconds) --------------------------------------------------------------
# At the soft limit the task gets SoftTimeLimitExceeded (beat sweeps stop between items;
# the next run continues); at the hard limit its pool process is killed and the message is
# acknowledged as failed, so a stuck task is not delivered again and again.


def _time_limits(hard: int) -> dict[str, int]:
    """A task's soft and hard limit: the soft one leaves a tenth of the time to finish up."""
    return {"soft_time_limit": hard * 9 // 10, "time_limit": hard}


# Every task, unless listed below: a sweep of 500 items, one OCPP command (60 s), a few
# provider calls with PAYMENTS_HTTP_TIMEOUT (15 s).
CELERY_TASK_TIME_LIMIT = _env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = _time_limits(CELERY_TASK_TIME_LIMIT)["soft_time_limit"]
# Tasks that wait on one Stripe call, which its client tries three times with an 80 s
# timeout each: cutting a capture short would only make it run again.
CELERY_PROVIDER_TASK_TIME_LIMIT = _env.int("CELERY_PROVIDER_TASK_TIME_LIMIT", default=600)
# Per-task limits (Celery applies them to the named tasks). The system check csms.E021
# refuses a name that is not a registered task.
CELERY_TASK_ANNOTATIONS = {
    "payments.tasks.settle_reservation_for_session": _time_limits(CELERY_PROVIDER_TASK_TIME_LIMIT),
    "payments.tasks.refresh_payment": _time_limits(CELERY_PROVIDER_TASK_TIME_LIMIT),
}

# --- Broker visibility timeout ------------------------------------------------------------
CELERY_LONGEST_TASK_TIME_LIMIT = max(
    CELERY_TASK_TIME_LIMIT, *(limits["time_limit"] for limits in CELERY_TASK_ANNOTATIONS.values())
)
# The margin covers a retried task's wait in the worker (its countdown: at most 60 s, see
# payments/tasks.py; the message stays unacknowledged meanwhile) and the seconds a worker
# takes to kill a task at its hard limit and acknowledge it.
CELERY_VISIBILITY_MARGIN = 120
# Default 600 + 120 = 720 s: a killed worker's tasks run again within about 12 minutes.
# Lower only together with the time limits: the system check csms.E020 (run by manage.py
# and at every worker start) refuses a timeout at or below the longest hard limit.
CELERY_VISIBILITY_TIMEOUT = _env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=CELERY_LONGEST_TASK_TIME_LIMIT + CELERY_VISIBILITY_MARGIN
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Look for expired unacknowledged messages every 10 s (kombu's default looks every
    # 100 s: 10 s between sweeps, and only every tenth sweep scans).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
