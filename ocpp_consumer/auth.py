"""Charger authentication at connect, without stalling the process's OCPP traffic.

The database thread commits every charger's frames (ocpp_consumer/batching.py), so it
only looks the charger up (charge_point_admit_many, batched). A password stored with the
current hash (an HMAC, microseconds) is checked right here, on the event loop; an older
slow hash (PBKDF2, until it is upgraded at that login) in a small thread pool of its own
(OCPP_AUTH_THREADS), one check per connection and one at a time per charger id. Failed
attempts are counted per charger id and per source address (FailureLimiter): past the
allowance, connects are refused at once, without checking a password, for a lock-out
that doubles with every further failure; and only one check per charger id runs at a time. A charger whose password matches its cached
successful check still gets in while its id is locked out, so guessing at a known id
does not lock the real charger out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from chargepoints import charger_secrets
from chargepoints.models import ChargePoint
from chargepoints.services import (
    charge_point_admit_many,
    charge_point_password_cached,
    charge_point_password_check,
    charge_point_password_hash_replace,
)
from ocpp_consumer.batching import run_service, run_service_many

logger = logging.getLogger(__name__)


@dataclass
class _Failures:
    count: int
    last: float
    locked_until: float


class FailureLimiter:
    """Failed attempts per key, with a doubling lock-out past an allowance. In-process:
    each web process counts its own connections (and keeps working with Redis down)."""

    MAX_KEYS = 100_000

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, _Failures] = {}

    def locked(self, key: str) -> bool:
        found = self._failures.get(key)
        return found is not None and found.locked_until > self._clock()

    def failed(self, key: str, allowance: int) -> None:
        now = self._clock()
        found = self._failures.get(key)
        if found is None or now - found.last > settings.OCPP_AUTH_FAILURE_WINDOW_SECONDS:
            if len(self._failures) >= self.MAX_KEYS:
                self._prune(now)
            found = self._failures[key] = _Failures(count=0, last=now, locked_until=0.0)
        found.count += 1
        found.last = now
        if found.count > allowance:
            lock = settings.OCPP_AUTH_BACKOFF_SECONDS * 2 ** min(found.count - allowance - 1, 30)
            found.locked_until = now + min(lock, settings.OCPP_AUTH_BACKOFF_MAX_SECONDS)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        window = settings.OCPP_AUTH_FAILURE_WINDOW_SECONDS
        stale = [k for k, f in self._failures.items() if now - f.last > window and f.locked_until <= now]
        for key in stale or list(self._failures)[: self.MAX_KEYS // 10]:
            del self._failures[key]


limiter = FailureLimiter()
_pool: ThreadPoolExecutor | None = None
_waiting = 0
# Charger ids with a password check in the pool. One at a time per id: attempts arriving
# together would otherwise all pass the lock-out check (their failures are not counted
# yet) and queue a slow check each, ahead of other chargers' checks.
_checking: set[str] = set()


def _identity_key(identity: str) -> str:
    return f"id:{identity}"


def _address_key(address: str | None) -> str | None:
    return f"ip:{address}" if address else None


def _failed(identity: str | None, address: str | None) -> None:
    if identity is not None:
        limiter.failed(_identity_key(identity), settings.OCPP_AUTH_FAILURES_PER_IDENTITY)
    address_key = _address_key(address)
    if address_key is not None:
        limiter.failed(address_key, settings.OCPP_AUTH_FAILURES_PER_ADDRESS)


async def _check_in_pool(charge_point: ChargePoint, password: str | None) -> tuple[bool, str | None] | None:
    """charge_point_password_check in the auth pool; None when too many checks wait."""
    global _pool, _waiting
    if _waiting >= settings.OCPP_AUTH_MAX_WAITING:
        return None
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.OCPP_AUTH_THREADS, thread_name_prefix="ocpp-auth")
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(
            _pool, lambda: charge_point_password_check(charge_point=charge_point, password=password)
        )
    finally:
        _waiting -= 1


async def charger_authenticate(
    *, identity: str, password: str | None, protocol: str, address: str | None
) -> ChargePoint | None:
    """The charger that may open this connection, or None to refuse it."""
    address_key = _address_key(address)
    if address_key is not None and limiter.locked(address_key):
        logger.warning("%s: refused without a check: too many failed logins from %s", identity, address)
        return None
    # A Pending registration stores the password presented; its (fast) hash is made here
    # so the database thread does no hashing.
    password_hash = charger_secrets.make_hash(password) if password else ""
    charge_point, authenticated = await run_service_many(
        charge_point_admit_many,
        "requests",
        {"identity": identity, "protocol": protocol, "password_hash": password_hash},
    )
    if charge_point is None:
        _failed(None, address)
        return None
    if authenticated:
        return charge_point
    if limiter.locked(_identity_key(identity)):
        if charge_point_password_cached(charge_point=charge_point, password=password):
            return charge_point
        logger.warning("%s: refused without a check: too many failed logins for this id", identity)
        return None
    if charger_secrets.is_current(charge_point.password_hash):
        # The current hash is an HMAC: microseconds, checked here on the event loop, with
        # no queue to wait in (a fleet reconnecting at once was refused by the pool's
        # queue limit, issue 20) and no await between the check and counting a failure.
        checked = charge_point_password_check(charge_point=charge_point, password=password)
    else:
        if identity in _checking:
            logger.warning("%s: refused without a check: another login of this id is being checked", identity)
            return None
        _checking.add(identity)
        try:
            checked = await _check_in_pool(charge_point, password)
        finally:
            _checking.discard(identity)
    if checked is None:
        logger.warning("%s: refused: too many password checks waiting", identity)
        return None
    ok, upgraded = checked
    if not ok:
        _failed(identity, address)
        return None
    limiter.forget(_identity_key(identity))
    if upgraded:
        # An older (slow) hash matched: store the fast one, so the next check is cheap.
        await run_service(
            charge_point_password_hash_replace,
            charge_point_id=charge_point.pk,
            old_hash=charge_point.password_hash,
            new_hash=upgraded,
        )
    return charge_point
