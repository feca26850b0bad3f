"""What sessions_app tells the apps above it, without importing them (billing prices
sessions and sits above this app: it connects to these when it loads, billing.apps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

# Sent after commit when a session ended, or when its data changed after it ended (a late
# stop, a late event): it is to be priced (again). Keyword argument: session_id.
session_completed = Signal()

# The running cost of an active session, for the OCPP 2.0.1 TransactionEvent answer: a
# question with an answer, so a registered function rather than a signal.
_running_cost: Callable[..., Any] | None = None


def register_running_cost(function: Callable[..., Any]) -> None:
    global _running_cost
    _running_cost = function


def running_cost(*, session) -> Any:
    """The registered cost of `session` so far (None when nothing is registered)."""
    return None if _running_cost is None else _running_cost(session=session)
