"""How load management hears about what changes a site's load, without the apps below it
importing it: a session started, ended or changed state (sessions_app.signals.load_changed),
a charger booted (chargepoints.signals.charge_point_booted). Both arrive after commit; each
asks for a run of the charger's site when load management is on there.

The work goes to Celery (with a short delay that gathers a burst of events into one run):
never inline in the OCPP handler that recorded the event, whose charger is waiting for its
answer. (With CELERY_TASK_ALWAYS_EAGER, as in the unit tests, Celery runs it at once.)"""

from __future__ import annotations

import logging

from django.conf import settings

from chargepoints.signals import charge_point_booted, charge_points_booted
from loadmanagement import selectors, tasks
from loadmanagement.signals import load_settings_changed
from sessions_app.signals import load_changed

logger = logging.getLogger(__name__)


def on_load_changed(sender, *, charge_point_ids: list[int], **kwargs) -> None:
    """One query for all the chargers announced together; each managed site gets one run."""
    for site_id in dict.fromkeys(selectors.managed_sites_of(charge_point_ids=charge_point_ids).values()):
        tasks.site_enforce.apply_async((site_id,), countdown=settings.LOADMANAGEMENT_TRIGGER_DELAY_SECONDS)


def on_charge_point_booted(sender, *, charge_point_id: int, **kwargs) -> None:
    site_id = selectors.managed_site_of(charge_point_id=charge_point_id)
    if site_id is not None:
        tasks.charger_fail_safe_send.apply_async(
            (charge_point_id,), countdown=settings.LOADMANAGEMENT_TRIGGER_DELAY_SECONDS
        )
        tasks.site_enforce.apply_async((site_id,), countdown=settings.LOADMANAGEMENT_TRIGGER_DELAY_SECONDS)


def on_charge_points_booted(sender, *, charge_point_ids: list[int], **kwargs) -> None:
    """on_charge_point_booted for many chargers booted together: one query finds those on
    a managed site (a fleet rebooting costs one query per batch, not one per charger), and
    each such site gets one run."""
    managed = selectors.managed_sites_of(charge_point_ids=charge_point_ids)
    for charge_point_id in managed:
        tasks.charger_fail_safe_send.apply_async(
            (charge_point_id,), countdown=settings.LOADMANAGEMENT_TRIGGER_DELAY_SECONDS
        )
    for site_id in dict.fromkeys(managed.values()):
        tasks.site_enforce.apply_async((site_id,), countdown=settings.LOADMANAGEMENT_TRIGGER_DELAY_SECONDS)


def on_load_settings_changed(sender, *, site_id: int, **kwargs) -> None:
    """A new capacity takes effect at once: a new fail-safe default, a new allocation."""
    tasks.site_enforce.delay(site_id, True)


def connect() -> None:
    load_settings_changed.connect(on_load_settings_changed, dispatch_uid="loadmanagement-settings-changed")
    load_changed.connect(on_load_changed, dispatch_uid="loadmanagement-load-changed")
    charge_point_booted.connect(on_charge_point_booted, dispatch_uid="loadmanagement-charge-point-booted")
    charge_points_booted.connect(on_charge_points_booted, dispatch_uid="loadmanagement-charge-points-booted")
