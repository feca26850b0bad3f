"""Dependencies that can go away: one `Outage` per dependency and process.

An outage is logged once when it starts and once when it ends (with how long it lasted and
how many calls failed meanwhile), never once per failed call: during a 30 s outage a
thousand chargers would otherwise write a traceback per frame. For a moment after a
failure (`should_skip`), hot paths fail fast instead of paying another connect attempt.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)


class Outage:
    """The state of one dependency in this process: up, or down since when."""

    def __init__(self, name: str, skip_for: float = 1.0) -> None:
        self.name = name
        self.skip_for = skip_for
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._skip_until = 0.0
        self.failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def should_skip(self) -> bool:
        """True for a moment after a failure: do not try again yet, fail fast."""
        return time.monotonic() < self._skip_until

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self.failures += 1
            self._skip_until = now + self.skip_for
            if self._down_since is not None:
                return
            self._down_since = now
        logger.error(
            "%s is unavailable (%s: %s); running degraded until it answers", self.name, type(error).__name__, error
        )

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted = time.monotonic() - self._down_since
            self._down_since, self._skip_until, failures = None, 0.0, self.failures
            self.failures = 0
        logger.warning("%s is back after %.1f s (%d failed calls meanwhile)", self.name, lasted, failures)


redis_outage = Outage("Redis")
database_outage = Outage("The database")


# PostgreSQL errors that Django raises as OperationalError but that are about one
# transaction, not the database: a deadlock, a serialization failure, a lock not
# available (NOWAIT), a statement cancelled by its timeout. Retrying the other statements
# of a batch one by one is the cure, not failing every caller of the process.
_TRANSACTION_SQLSTATES = {"40P01", "40001", "55P03", "57014"}


def is_database_unavailable(error: BaseException) -> bool:
    """A failure to reach the database (refused, dropped, pool exhausted), as opposed to an
    error of the statement, its data or its transaction, which retrying other statements
    would not share."""
    from django.db import InterfaceError, OperationalError

    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) not in _TRANSACTION_SQLSTATES
