"""The site load management page: capacity, each connector's limit and draw (live), and
the site's draw against its capacity over the last day."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from loadmanagement import selectors as load_selectors
from loadmanagement.models import SiteLoadSettings
from sessions_app.selectors import connector_display_status

from . import selectors as ps
from .views import staff_required

CHART_HOURS = 24


def _site_or_404(request: HttpRequest, site_id: int):
    site = ps.site_list(scope=request.operator_scope).filter(pk=site_id).first()
    if site is None:
        raise Http404("No such site.")
    return site


def _live_context(site) -> dict:
    load = SiteLoadSettings.objects.filter(site=site).first() or SiteLoadSettings(site=site)
    rows = load_selectors.site_allocation_rows(site_id=site.pk)
    charging_states = ps.site_charging_states(site_id=site.pk)
    for row in rows:
        row["display_status"] = connector_display_status(
            status=row["status"], charging_state=charging_states.get((row["charge_point"], row["connector_id"]))
        )
    limits, draws = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    for row in rows:
        for phase, amps in enumerate(row["draw_amps"] or []):
            draws[phase] += amps
        if row["limit_amps"] is not None:
            for phase in range(3) if row["phases"] == 3 else [0]:
                limits[phase] += float(row["limit_amps"])
    return {
        "site": site,
        "load": load,
        "net_capacity": load_selectors.net_capacity_amps(load_selectors.site_capacity(load)),
        "rows": rows,
        "limits_total": [round(v, 1) for v in limits],
        "draws_total": [round(v, 1) for v in draws],
        "updated_at": timezone.now(),
    }


def _chart(site) -> dict:
    """Per history sample: the highest phase of the limits and of the draw, and the capacity."""
    samples = load_selectors.site_load_history(site_id=site.pk, since=timezone.now() - timedelta(hours=CHART_HOURS))
    return {
        "capacity": [
            [int(s.at.timestamp() * 1000), float(s.capacity_amps)] for s in samples if s.capacity_amps is not None
        ],
        "limits": [[int(s.at.timestamp() * 1000), max(s.limits_amps or [0])] for s in samples],
        "draw": [[int(s.at.timestamp() * 1000), max(s.draw_amps or [0])] for s in samples],
    }


@require_GET
@staff_required
def site_load(request: HttpRequest, site_id: int) -> HttpResponse:
    site = _site_or_404(request, site_id)
    return render(request, "portal/site_load.html", {**_live_context(site), "chart": _chart(site)})


@require_GET
@staff_required
def site_load_live(request: HttpRequest, site_id: int) -> HttpResponse:
    return render(request, "portal/_site_load_live.html", _live_context(_site_or_404(request, site_id)))
