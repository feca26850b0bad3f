"""Celery tasks of load management: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from loadmanagement import enforcement, selectors, services


@shared_task(ignore_result=True)
def site_enforce(site_id: int, fail_safe: bool = False) -> None:
    enforcement.site_enforce(site_id=site_id, fail_safe=fail_safe)


@shared_task(ignore_result=True)
def sites_enforce() -> None:
    """The periodic run: every managed site, each in its own task; the fail-safe default is
    checked on the way (a charger that connected without booting gets it here)."""
    for site_id in selectors.managed_site_ids():
        site_enforce.delay(site_id, True)


@shared_task(ignore_result=True)
def charger_fail_safe_send(charge_point_id: int) -> None:
    enforcement.charger_fail_safe_send(charge_point_id=charge_point_id)


@shared_task(ignore_result=True)
def load_samples_purge() -> None:
    services.load_samples_purge()
