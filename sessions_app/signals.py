"""What sessions_app tells the apps above it, without importing them (billing prices
sessions and sits above this app: it connects to these when it loads, billing.apps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

# Sent after commit when sessions ended, or when their data changed after they ended (a
# late stop, a late event): they are to be priced (again). Keyword arguments: session_ids
# (a list: the stops of many chargers written together are announced together), and
# answer_waits: whether the charger's answer carries the price (an OCPP 2.0.1 Ended's
# totalCost), so it must be priced before the answer; when not (a 1.6 StopTransaction),
# the pricing may go to a worker.
session_completed = Signal()

# Sent after commit when what a charger draws may change: a session started or ended, or
# its charging state changed (load management re-shares the site). Keyword argument:
# charge_point_ids (a list: the starts of many chargers are announced together).
load_changed = Signal()


def announce_load_change(*charge_point_ids: int) -> None:
    """Send load_changed for these chargers once the current transaction commits."""
    from django.db import transaction

    ids = list(charge_point_ids)
    if ids:
        transaction.on_commit(lambda: load_changed.send(sender=None, charge_point_ids=ids), robust=True)


# The running cost of an active session, for the OCPP 2.0.1 TransactionEvent answer: a
# question with an answer, so a registered function rather than a signal.
_running_cost: Callable[..., Any] | None = None


def register_running_cost(function: Callable[..., Any]) -> None:
    global _running_cost
    _running_cost = function


def running_cost(*, session) -> Any:
    """The registered cost of `session` so far (None when nothing is registered)."""
    return None if _running_cost is None else _running_cost(session=session)
