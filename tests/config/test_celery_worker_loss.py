"""Tasks survive a killed worker: a real Redis broker (a throwaway redis-server), real
`celery worker` processes on the test database, a burst of 200 tasks, kill -9 in the
middle of it (first one pool process, then the whole worker), a new worker: every task's
effect is recorded exactly once.

The workers run with their limits scaled down (seconds instead of minutes, still below
the visibility timeout, so they start), so a killed worker's messages come back within
the test's two minutes. Figures (how soon a lost task ran again) are printed: run with -s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from celery import Celery

from billing.models import WalletEntry
from billing.wallet import wallet_balance
from tests.factories import DriverFactory
from tests.support import celery_burst
from tests.support.e2e import server_env
from tests.support.outages import ThrowawayRedis

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BURST = 200
DEADLINE_SECONDS = 120
# Scaled-down limits for the test's workers: the longest hard limit (25 s) stays below the
# visibility timeout (30 s), as in production (600 s and 720 s).
WORKER_LIMITS = {
    "CELERY_TASK_TIME_LIMIT": "20",
    "CELERY_PROVIDER_TASK_TIME_LIMIT": "25",
    "CELERY_VISIBILITY_TIMEOUT": "30",
}


@pytest.fixture
def broker_url():
    """A redis-server of its own (stopped at the end), so the kills strand nothing that
    other tests or runs would see."""
    broker = ThrowawayRedis()
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


def _until(condition, what: str | Callable[[], str], *, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what if isinstance(what, str) else what()}"
            )
        time.sleep(every)


def _worker_start(broker_url: str, name: str) -> subprocess.Popen:
    env = server_env(CELERY_TASK_ALWAYS_EAGER="false", **WORKER_LIMITS)
    env["REDIS_URL"] = broker_url
    with open(ROOT / "var" / f"e2e-celery-{name}-{os.getpid()}.log", "w") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config.celery_app",
                "worker",
                "-I",
                "tests.support.celery_burst",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "-n",
                f"{name}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the pool with it
        )


def _worker_kill(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def _children(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _in_phase(client: redis.Redis, phase: str, pids: set[int]) -> tuple[int, int] | None:
    """A pool process (of `pids`) in the middle of a task in `phase`: (pid, task number)."""
    for pid, value in client.hgetall(celery_burst.PHASES).items():
        number, seen = value.decode().split()
        if seen == phase and int(pid) in pids:
            return int(pid), int(number)
    return None


def _effects() -> int:
    return WalletEntry.objects.filter(idempotency_key__startswith="burst-").count()


def _runs(client: redis.Redis) -> list[tuple[int, float]]:
    entries = (entry.decode().split() for entry in client.lrange(celery_burst.RUNS, 0, -1))
    return [(int(number), float(started)) for number, started in entries]


def _rerun(runs: list[tuple[int, float]], number: int, moment: float) -> str:
    """How soon after `moment` `number` ran again, and how many other runs started first
    (a message handed back goes to the end of the queue)."""
    again = min(started for run, started in runs if run == number and started > moment)
    ahead = sum(1 for run, started in runs if run != number and moment < started < again)
    return f"{again - moment:.2f} s ({ahead} other runs first)"


def test_every_task_of_a_burst_takes_effect_once_through_two_kills_and_a_new_worker(broker_url):
    user = DriverFactory()
    client = redis.Redis.from_url(broker_url)
    producer = Celery("burst-producer", broker=broker_url)
    with producer.connection_for_write() as connection:
        for number in range(BURST):
            producer.send_task(
                "tests.support.celery_burst.credit_once",
                kwargs={"user_id": user.pk, "number": number},
                connection=connection,
            )
    assert client.llen("celery") == BURST

    workers = [_worker_start(broker_url, "first")]
    try:
        _until(lambda: _effects() >= 40, "the first worker to take 40 tasks", timeout=DEADLINE_SECONDS)
        # kill -9 one pool process while its task has not recorded its effect yet.
        pool = _children(workers[0].pid)
        child, before_effect = _until(
            lambda: _in_phase(client, "before", pool), "a task before its effect", timeout=10, every=0.002
        )
        os.kill(child, signal.SIGKILL)
        child_killed_at = time.time()

        _until(lambda: _effects() >= 120, "the first worker to take 120 tasks", timeout=DEADLINE_SECONDS)
        # kill -9 the whole worker while a task has recorded its effect but not returned.
        pool = _children(workers[0].pid)
        _, after_effect = _until(
            lambda: _in_phase(client, "after", pool), "a task after its effect", timeout=10, every=0.002
        )
        _worker_kill(workers[0])
        worker_killed_at = time.time()
        done_before_the_kill = _effects()

        workers.append(_worker_start(broker_url, "second"))
        second_started_at = time.time()
        _until(
            lambda: _effects() == BURST,
            lambda: f"every task's effect after the new worker started (recorded: {_effects()} of {BURST})",
            timeout=DEADLINE_SECONDS,
        )
        all_done_at = time.time()
        _until(
            lambda: client.llen("celery") == 0 and client.hlen("unacked") == 0,
            "the broker to hold nothing, not even a run in progress",
            timeout=DEADLINE_SECONDS,
        )
    finally:
        for worker in workers:
            _worker_kill(worker)

    keys = Counter(WalletEntry.objects.filter(idempotency_key__startswith="burst-").values_list("idempotency_key"))
    assert sorted(key for (key,) in keys) == sorted(celery_burst.key(number) for number in range(BURST))
    assert set(keys.values()) == {1}
    assert wallet_balance(user_id=user.pk) == Decimal(BURST)

    runs = _runs(client)
    starts = Counter(number for number, _ in runs)
    assert starts[before_effect] >= 2, "the task killed with its pool process never ran again"
    assert starts[after_effect] >= 2, "the task killed with its worker never ran again"
    print(
        f"\nworker loss: {len(runs)} runs for {BURST} tasks;"
        f" pool process killed -> task {before_effect} ran again after {_rerun(runs, before_effect, child_killed_at)};"
        f" worker killed with {done_before_the_kill} done -> new worker launched after"
        f" {second_started_at - worker_killed_at:.2f} s, task {after_effect} ran again after"
        f" {_rerun(runs, after_effect, worker_killed_at)}, all {BURST} done after"
        f" {all_done_at - worker_killed_at:.2f} s"
    )
