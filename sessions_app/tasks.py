"""Beat jobs of the sessions area."""

from __future__ import annotations

from celery import shared_task

from sessions_app import services


@shared_task(name="sessions_app.tasks.charge_session_orphan_sweep")
def charge_session_orphan_sweep() -> list[int]:
    """Close sessions whose charger went offline or rebooted without them.

    Twice is once: each session is closed under its row lock, only while still active."""
    return services.charge_session_orphans_close()
