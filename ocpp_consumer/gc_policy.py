"""The cyclic garbage collector's policy in a web process holding thousands of chargers.

Every collection of a generation scans all its objects while the event loop waits. The
objects of the connections themselves (consumer, protocol handler, Twisted/autobahn
transport, tasks: a few hundred each, many in reference cycles) are long-lived, so with
the interpreter's defaults they are scanned again and again: at 5,000 chargers a
generation-1 collection paused the process for 0.2 s and a full one for 0.6 s (issue 3),
which set the p99 latency.

The policy (OCPP_GC_GEN0_THRESHOLD > 0):
- when the first charger connects (start-up is over): one full collection, gc.freeze()
  (start-up objects leave the scanned generations) and a higher generation-0 threshold;
- each time a tenth of the fleet (at least REFREEZE_MIN) has connected since the last
  freeze: gc.freeze() again, so connection objects stop being scanned. A freeze splices
  lists: no pause;
- a frozen object that later becomes cyclic garbage is not collected until unfrozen. When
  connections that were frozen have closed in numbers (a quarter of the fleet at the last
  freeze, at least STALE_MIN; a connection that closed before a freeze counts too once that
  freeze comes, as its garbage may be frozen with it): COLLECT_DELAY seconds later (closes come in bursts),
  gc.unfreeze(), one full collection, and the survivors frozen again. That bounds the
  garbage held back to about a quarter of the fleet's connections, and puts the one long
  pause (about 0.1 ms per connection) where a large part of the fleet has just reconnected.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

REFREEZE_MIN = 100
REFREEZE_GROWTH = 0.10
STALE_MIN = 500
STALE_FRACTION = 0.25
COLLECT_DELAY = 5.0  # seconds from the close that crossed the line to the full collection


class _State:
    tuned = False
    epoch = 0  # incremented by every freeze
    open = 0  # connections open in this process
    open_at_freeze = 0
    opened_since_freeze = 0
    stale = 0  # connections closed since the last full collection whose objects were frozen
    # Closed before any freeze reached them: garbage the collector may not have reclaimed
    # yet (generation 2 is rarely collected), which the next freeze would hold back too.
    closed_unfrozen = 0
    collect_scheduled = False


_state = _State()


def _enabled() -> bool:
    return bool(settings.OCPP_GC_GEN0_THRESHOLD)


def _freeze() -> None:
    gc.freeze()
    _state.epoch += 1
    _state.open_at_freeze = _state.open
    _state.opened_since_freeze = 0
    _state.stale += _state.closed_unfrozen
    _state.closed_unfrozen = 0


def connection_opened() -> int:
    """Count an accepted charger connection; returns the token for connection_closed()."""
    epoch = _state.epoch
    _state.open += 1
    _state.opened_since_freeze += 1
    if not _enabled():
        return epoch
    if not _state.tuned:
        _state.tuned = True
        gc.collect()
        _freeze()
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(max(settings.OCPP_GC_GEN0_THRESHOLD, gc.get_threshold()[0]), gen1, gen2)
    elif _state.opened_since_freeze >= max(REFREEZE_MIN, _state.open_at_freeze * REFREEZE_GROWTH):
        _freeze()
        _collect_when_due()
    return epoch


def connection_closed(token: int) -> None:
    """Count a closed connection (token: what connection_opened returned)."""
    _state.open = max(0, _state.open - 1)
    if not _enabled():
        return
    if token >= _state.epoch:
        _state.closed_unfrozen += 1  # counted as stale if a freeze comes before the collector
        return
    _state.stale += 1
    _collect_when_due()


def _collect_when_due() -> None:
    if _state.stale < max(STALE_MIN, _state.open_at_freeze * STALE_FRACTION) or _state.collect_scheduled:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _collect_frozen_garbage()
        return
    # Closes come in bursts (a network outage, a restart of the fleet): collect once the
    # burst is over rather than once per STALE_MIN closes.
    _state.collect_scheduled = True
    loop.call_later(COLLECT_DELAY, _collect_frozen_garbage)


def _collect_frozen_garbage() -> None:
    started, closed = time.perf_counter(), _state.stale
    gc.unfreeze()
    collected = gc.collect()
    _freeze()
    _state.stale = 0
    _state.collect_scheduled = False
    logger.info(
        "full garbage collection after %d frozen connections closed: %d objects, %.0f ms",
        closed,
        collected,
        (time.perf_counter() - started) * 1000,
    )


def stats() -> dict:
    return {
        "open": _state.open,
        "epoch": _state.epoch,
        "open_at_freeze": _state.open_at_freeze,
        "stale": _state.stale,
        "closed_unfrozen": _state.closed_unfrozen,
        "collect_scheduled": _state.collect_scheduled,
        "frozen_objects": gc.get_freeze_count(),
    }
