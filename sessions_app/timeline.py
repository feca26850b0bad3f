"""A session's charging-state timeline as intervals: the one reading of "which state was
the session in, from when to when", used for charging time (1.6 and 2.0.1 alike) and by
billing's idle time.

States come in arrival order; changes in the same instant keep it (a stable sort on the
time alone). Sorting by (time, state) put Charging before an EVConnected reported first in
the same second, and the session was billed as idle (issue 15)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sessions_app.models import ChargingState


def state_intervals(
    states: Iterable[tuple[datetime, str]],
    *,
    started_at: datetime,
    ended_at: datetime,
) -> list[tuple[datetime, datetime, str]]:
    """(from, until, state) for each state change before `ended_at`, clamped to the session:
    a change reported before the start counts from the start."""
    timeline = sorted(
        ((max(at, started_at), state) for at, state in states if at < ended_at),
        key=lambda change: change[0],
    )
    return [
        (at, timeline[index + 1][0] if index + 1 < len(timeline) else max(ended_at, at), state)
        for index, (at, state) in enumerate(timeline)
    ]


def charging_seconds(states: Iterable[tuple[datetime, str]], *, started_at: datetime, ended_at: datetime) -> int:
    """Whole seconds spent in Charging."""
    total = sum(
        (
            until - at
            for at, until, state in state_intervals(states, started_at=started_at, ended_at=ended_at)
            if state == ChargingState.CHARGING
        ),
        timedelta(),
    )
    return int(total.total_seconds())
