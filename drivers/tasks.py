"""Celery tasks of the accounts area (driver events)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="drivers.tasks.emit_charging_events", ignore_result=True)
def emit_charging_events() -> int:
    """Send every driver with an active session its live figures. Twice is harmless: a
    CHARGING event carries the session's figures so far, not an increment, so a repeat
    only says the same again."""
    from drivers.charging import charging_events_emit

    return charging_events_emit()
