"""Domain -> frames: what a driver's charger looks like to the client right now."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from bluecurrent import frames, selectors, smart
from chargepoints.models import ChargePoint, ChargingProfile, IdTokenStatus
from sessions_app.models import ChargeSession
from sessions_app.selectors import connector_display_status


def _activity(charge_point: ChargePoint, status: str) -> str:
    if not charge_point.is_online:
        return "offline"
    if not charge_point.is_operative:
        return "unavailable"
    return frames.ACTIVITY.get(status, "available")


def _smart(charge_point: ChargePoint) -> tuple[bool, dict, dict]:
    delayed = selectors.home_profile_latest(charge_point=charge_point, kind="delayed")
    price = selectors.home_profile_latest(charge_point=charge_point, kind="price")
    delayed_on, price_on = selectors.home_profile_enabled(delayed), selectors.home_profile_enabled(price)
    delayed_params = (delayed.schedule or {}).get("customData", {}) if delayed else {}
    price_params = (price.schedule or {}).get("customData", {}) if price else {}
    delayed_value = {
        **frames.setting_value(delayed_on),
        "days": delayed_params.get("days", []),
        "start_time": delayed_params.get("startTime", ""),
        "end_time": delayed_params.get("endTime", ""),
    }
    price_value = {
        **frames.setting_value(price_on),
        **{key: price_params.get(key, default) for key, default in smart.PRICE_DEFAULTS.items()},
    }
    return delayed_on or price_on, delayed_value, price_value


def _model(charge_point: ChargePoint) -> tuple[str, str]:
    return charge_point.model or "", charge_point.vendor or ""


def charge_points_frame(*, user: User) -> dict:
    entries = []
    for cp in selectors.charge_points_for_driver(user=user):
        connector = selectors.main_connector(charge_point=cp)
        smart_on, delayed, price = _smart(cp)
        model_type, vendor = _model(cp)
        entries.append(
            frames.charge_point_entry(
                evse_id=cp.identity,
                name=cp.name,
                model_type=model_type,
                chargepoint_type=vendor,
                activity=_activity(cp, connector.status if connector else cp.status),
                public_charging=cp.public_charging,
                plug_and_charge=cp.plug_and_charge,
                smart_charging=smart_on,
                delayed_charging=delayed,
                price_based_charging=price,
                latitude=cp.site.latitude if cp.site_id else None,
                longitude=cp.site.longitude if cp.site_id else None,
            )
        )
    return frames.charge_points(entries)


def _phases(session: ChargeSession | None) -> tuple[tuple, tuple]:
    """Per-phase voltages and currents of the running session; zeros when nothing charges.

    A phase that carries current but has no voltage reading (many chargers measure L1 only)
    gets the L1 voltage, or the nominal voltage when none is measured. Without per-phase
    currents the session's power is spread over three phases."""
    readings = selectors.phase_readings(session=session)
    voltages = [readings["Voltage"].get(n) for n in (1, 2, 3)]
    currents = [readings["Current.Import"].get(n) for n in (1, 2, 3)]
    nominal = settings.BLUECURRENT_NOMINAL_VOLTAGE
    power = (session.power_w or 0) if session is not None and session.is_active else 0
    if not any(currents) and power > 0:
        measured = [v for v in voltages if v]
        per_phase = power / (3 * (sum(measured) / len(measured) if measured else nominal))
        currents = [per_phase, per_phase, per_phase]
    reference = voltages[0] or next((v for v in voltages if v), None) or nominal
    voltages = [v or (reference if current else 0) for v, current in zip(voltages, currents, strict=True)]
    return tuple(voltages), tuple(currents)


def _smartcharging_limit(charge_point: ChargePoint, rated: int) -> int:
    """The current the driver's override schedules allow now: the lowest limit in force of
    the live ones, the rated current outside their windows."""
    now = timezone.now()
    limit = rated
    for override in ChargingProfile.objects.filter(
        charge_point=charge_point,
        source=f"{selectors.HOME_API_SOURCE}:override",
        status__in=[ChargingProfile.Status.PENDING, ChargingProfile.Status.ACTIVE],
    ):
        in_force = smart.limit_at(override.schedule or {}, now)
        if in_force is not None:
            limit = min(limit, int(in_force))
    return limit


def status_frame(*, charge_point: ChargePoint) -> dict:
    connector = selectors.main_connector(charge_point=charge_point)
    session = selectors.latest_session(charge_point=charge_point, connector=connector)
    voltages, currents = _phases(session if session is not None and session.is_active else None)
    rated = smart.max_current(charge_point)
    active = session is not None and session.is_active
    status = connector.status if connector else charge_point.status
    # A 2.0.1 connector says only Occupied; its session's charging state says whether it charges.
    status = connector_display_status(status=status, charging_state=session.charging_state if active else None)
    kwh, cost = selectors.session_figures(session=session)
    return frames.ch_status(
        evse_id=charge_point.identity,
        voltages=voltages,
        currents=currents,
        activity=_activity(charge_point, status),
        vehicle_status=frames.VEHICLE_STATUS.get(status, "A") if charge_point.is_online else "A",
        actual_kwh=float(kwh),
        total_cost=cost,
        max_usage=rated,
        smartcharging_max_usage=_smartcharging_limit(charge_point, rated),
        max_offline=rated,
        start=session.started_at if session else None,
        stop=None if active or session is None else session.stopped_at,
        offline_since=None if charge_point.is_online else charge_point.last_seen_at,
    )


def settings_frame(*, charge_point: ChargePoint) -> dict:
    smart_on, delayed, price = _smart(charge_point)
    model_type, vendor = _model(charge_point)
    return frames.ch_settings(
        evse_id=charge_point.identity,
        name=charge_point.name,
        model_type=model_type,
        chargepoint_type=vendor,
        public_charging=charge_point.public_charging,
        plug_and_charge=charge_point.plug_and_charge,
        smart_charging=smart_on,
        delayed_charging=delayed,
        price_based_charging=price,
    )


def grid_frame(*, charge_point: ChargePoint) -> dict:
    """We do not meter the grid connection: the site's load is the sum of its chargers."""
    totals = [0.0, 0.0, 0.0]
    site_points = ChargePoint.objects.filter(site_id=charge_point.site_id) if charge_point.site_id else [charge_point]
    for cp in site_points:
        for connector in cp.connectors.all():
            _, currents = _phases(selectors.running_session(charge_point=cp, connector=connector))
            for index, value in enumerate(currents):
                totals[index] += value or 0
    capacity = charge_point.site.grid_capacity_amps if charge_point.site_id else None
    return frames.grid_status(
        evse_id=charge_point.identity, currents=tuple(totals), max_install=capacity or 0, max_reserved=capacity or 0
    )


def cards_frame(*, user: User, limit: int) -> dict:
    cards = selectors.charge_cards_for_driver(user=user, limit=limit)
    return frames.charge_cards(
        [
            {
                "uid": card.uid,
                "id": card.uid,
                "name": card.name,
                "customer_name": user.name or user.username,
                "valid": card.status == IdTokenStatus.ACCEPTED,
            }
            for card in cards
        ]
    )


def account_frame(*, user: User) -> dict:
    return {
        "object": "ACCOUNT",
        "login": user.email or user.username,
        "full_name": user.name,
        "customer_id": str(user.pk),
    }
