"""Admin of load management. Settings changes go through the service, so the admin's are
journaled like the API's and the portal's."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_scoping import ImmutableAdmin, OperatorScopedAdmin, ReadOnlyAdmin
from loadmanagement import services
from loadmanagement.models import (
    ChargerLoad,
    ChargingPriority,
    ConnectorAllocation,
    ConnectorLoad,
    FeederGroup,
    LoadSettingsChange,
    SiteLoadSample,
    SiteLoadSettings,
)


@admin.register(SiteLoadSettings)
class SiteLoadSettingsAdmin(OperatorScopedAdmin):
    operator_path = "site__operator_id"
    list_display = ("site", "enabled", "capacity_amps", "capacity_kw", "safety_margin_amps", "strategy", "updated_at")
    list_filter = ("enabled", "strategy")

    def get_readonly_fields(self, request, obj=None):
        return ("site",) if obj is not None else ()

    def save_model(self, request, obj, form, change) -> None:
        changes = {name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS if name in form.cleaned_data}
        saved = services.site_load_settings_update(site=obj.site, changes=changes, actor=request.user, source="admin")
        obj.pk = saved.pk


@admin.register(FeederGroup)
class FeederGroupAdmin(OperatorScopedAdmin):
    operator_path = "site__operator_id"
    list_display = ("name", "site", "parent", "capacity_amps", "capacity_kw", "safety_margin_amps")


@admin.register(ChargerLoad)
class ChargerLoadAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = ("charge_point", "feeder", "max_current_amps")


@admin.register(ConnectorLoad)
class ConnectorLoadAdmin(OperatorScopedAdmin):
    operator_path = "connector__charge_point__site__operator_id"
    list_display = ("connector", "phases", "phase", "min_current_amps", "max_current_amps")


@admin.register(ChargingPriority)
class ChargingPriorityAdmin(OperatorScopedAdmin):
    operator_path = "id_token__operator_id"
    list_display = ("id_token", "user", "priority")


@admin.register(ConnectorAllocation)
class ConnectorAllocationAdmin(ReadOnlyAdmin):
    operator_path = "connector__charge_point__site__operator_id"
    list_display = ("connector", "session", "limit_amps", "status", "sent_at", "draw_amps", "over_limit_since")


@admin.register(LoadSettingsChange)
class LoadSettingsChangeAdmin(ImmutableAdmin):
    operator_path = "site__operator_id"
    list_display = ("created_at", "site", "source", "actor", "changes")


@admin.register(SiteLoadSample)
class SiteLoadSampleAdmin(ImmutableAdmin):
    operator_path = "site__operator_id"
    list_display = ("at", "site", "capacity_amps", "limits_amps", "draw_amps")
