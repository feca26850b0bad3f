"""Admin for sites, charge points, connectors, id tokens, profiles and the frame journal.

Staff who belong to an operator see only that operator's objects; superusers see all.
The journal, the device model and operator events are read-only: they are records of
what chargers said, not something to edit.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from accounts.admin_scoping import OperatorScopedAdmin, ReadOnlyAdmin, ScopedChoices
from chargepoints import charger_secrets
from chargepoints.models import (
    ChargePoint,
    ChargePointEvent,
    ChargingProfile,
    ConfigurationKey,
    Connector,
    ConnectorReservation,
    ConnectorStatusChange,
    DeviceVariable,
    Evse,
    IdToken,
    LocalAuthList,
    OcppMessage,
    RegistrationStatus,
    Site,
)


@admin.register(Site)
class SiteAdmin(OperatorScopedAdmin):
    operator_path = "operator_id"
    list_display = ["name", "operator", "city", "country", "time_zone", "grid_capacity_amps"]
    list_filter = ["operator", "country", "time_zone"]
    search_fields = ["name", "address", "city", "postal_code"]


class ConnectorInline(ScopedChoices, admin.TabularInline):
    model = Connector
    extra = 0
    fields = [
        "connector_id",
        "evse",
        "evse_connector_id",
        "connector_type",
        "max_power_kw",
        "status",
        "error_code",
        "power_w",
        "meter_wh",
        "soc_percent",
    ]
    readonly_fields = ["status", "error_code", "power_w", "meter_wh", "soc_percent"]


class ChargePointForm(forms.ModelForm):
    new_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        min_length=16,
        help_text="Sets the Basic-auth password the charger uses (stored hashed). Leave empty to keep it; "
        "a new charger without one gets a generated password, shown once after saving.",
    )
    generate_password = forms.BooleanField(
        required=False, help_text="Replace the password with a new generated one, shown once after saving."
    )
    generated_password: str = ""

    class Meta:
        model = ChargePoint
        exclude = ["password_hash"]

    def save(self, commit=True):
        charge_point = super().save(commit=False)
        password = self.cleaned_data.get("new_password")
        if not password and (self.cleaned_data.get("generate_password") or charge_point.pk is None):
            password = self.generated_password = charger_secrets.generate()
        if password:
            charge_point.password_hash = charger_secrets.make_hash(password)
        if commit:
            charge_point.save()
        return charge_point


@admin.register(ChargePoint)
class ChargePointAdmin(OperatorScopedAdmin):
    form = ChargePointForm
    operator_path = "site__operator_id"
    list_display = [
        "identity",
        "name",
        "site",
        "protocol",
        "registration_status",
        "is_online",
        "last_seen_at",
        "status",
        "firmware_version",
        "vendor",
        "model",
    ]
    list_filter = ["is_online", "registration_status", "protocol", "site__operator", "site", "vendor"]
    search_fields = ["identity", "name", "serial_number", "vendor", "model"]
    list_select_related = ["site"]
    readonly_fields = [
        "is_online",
        "last_seen_at",
        "last_boot_at",
        "status",
        "error_code",
        "firmware_status",
        "diagnostics_status",
        "created_at",
        "updated_at",
    ]
    inlines = [ConnectorInline]
    actions = ["accept_registration", "reject_registration"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.generated_password:
            self.message_user(
                request,
                f"The Basic-auth password of {obj.identity} is {form.generated_password} "
                "— copy it to the charger now: it is stored hashed and not shown again.",
                level=messages.WARNING,
            )

    @admin.action(description="Accept the selected chargers (BootNotification → Accepted)")
    def accept_registration(self, request, queryset):
        count = queryset.update(registration_status=RegistrationStatus.ACCEPTED)
        self.message_user(request, f"{count} charger(s) accepted; they are told so at their next boot.")

    @admin.action(description="Reject the selected chargers")
    def reject_registration(self, request, queryset):
        count = queryset.update(registration_status=RegistrationStatus.REJECTED)
        self.message_user(request, f"{count} charger(s) rejected.")


@admin.register(Evse)
class EvseAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = ["charge_point", "evse_id"]
    search_fields = ["charge_point__identity"]
    list_select_related = ["charge_point"]


@admin.register(Connector)
class ConnectorAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = [
        "charge_point",
        "connector_id",
        "evse",
        "connector_type",
        "max_power_kw",
        "status",
        "error_code",
        "power_w",
        "status_updated_at",
    ]
    list_filter = ["status", "connector_type", "charge_point__site"]
    search_fields = ["charge_point__identity"]
    list_select_related = ["charge_point", "evse"]
    readonly_fields = ["status_updated_at", "power_w", "meter_wh", "soc_percent"]


@admin.register(IdToken)
class IdTokenAdmin(OperatorScopedAdmin):
    operator_path = "operator_id"
    list_display = ["uid", "name", "token_type", "user", "operator", "status", "expires_at", "created_at"]
    list_filter = ["status", "token_type", "operator"]
    search_fields = ["uid", "name", "user__phone", "user__name", "group_uid"]
    list_select_related = ["user", "operator"]
    raw_id_fields = ["user"]
    actions = ["block", "unblock"]

    @admin.action(description="Block the selected cards")
    def block(self, request, queryset):
        self.message_user(request, f"{queryset.update(status='Blocked')} card(s) blocked.")

    @admin.action(description="Accept the selected cards again")
    def unblock(self, request, queryset):
        self.message_user(request, f"{queryset.update(status='Accepted')} card(s) accepted.")


@admin.register(ChargingProfile)
class ChargingProfileAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = [
        "charge_point",
        "connector_id",
        "profile_id",
        "purpose",
        "stack_level",
        "charging_rate_unit",
        "status",
        "source",
        "created_at",
    ]
    list_filter = ["status", "purpose", "charging_rate_unit", "source"]
    search_fields = ["charge_point__identity"]
    list_select_related = ["charge_point"]


@admin.register(ConnectorReservation)
class ConnectorReservationAdmin(ReadOnlyAdmin):
    """Made and cancelled through the operator API, which sends the commands."""

    operator_path = "charge_point__site__operator_id"
    list_display = ["id", "charge_point", "connector", "id_tag", "expires_at", "status", "charger_status", "created_at"]
    list_filter = ["status"]
    search_fields = ["charge_point__identity", "id_tag"]
    list_select_related = ["charge_point", "connector"]


@admin.register(ConnectorStatusChange)
class ConnectorStatusChangeAdmin(ReadOnlyAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = ["at", "charge_point", "connector", "status", "error_code", "info"]
    list_filter = ["status"]
    search_fields = ["charge_point__identity"]
    list_select_related = ["charge_point", "connector"]
    date_hierarchy = "at"


@admin.register(LocalAuthList)
class LocalAuthListAdmin(ReadOnlyAdmin):
    """Sent through the operator API (local-list/sync/), which records what the charger holds."""

    operator_path = "charge_point__site__operator_id"
    list_display = ["charge_point", "version", "update_type", "status", "synced_at", "charger_version", "checked_at"]
    search_fields = ["charge_point__identity"]
    list_select_related = ["charge_point"]


@admin.register(OcppMessage)
class OcppMessageAdmin(ReadOnlyAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = ["created_at", "charge_point_identity", "direction", "message_type", "action", "unique_id"]
    list_filter = ["direction", "message_type", "action"]
    search_fields = ["charge_point_identity", "unique_id", "action"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # the journal is large; counting it all is slow
    list_per_page = 100
    readonly_fields = [f.name for f in OcppMessage._meta.fields]


@admin.register(ConfigurationKey)
class ConfigurationKeyAdmin(ReadOnlyAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = ["charge_point", "key", "value", "readonly", "updated_at"]
    list_filter = ["readonly"]
    search_fields = ["charge_point__identity", "key", "value"]
    list_select_related = ["charge_point"]


@admin.register(DeviceVariable)
class DeviceVariableAdmin(ReadOnlyAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = [
        "charge_point",
        "component_name",
        "component_instance",
        "evse_id",
        "variable_name",
        "variable_instance",
        "attribute_type",
        "value",
        "mutability",
    ]
    list_filter = ["component_name", "attribute_type", "mutability"]
    search_fields = ["charge_point__identity", "component_name", "variable_name", "value"]
    list_select_related = ["charge_point"]


@admin.register(ChargePointEvent)
class ChargePointEventAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = ["created_at", "charge_point", "kind", "severity", "message", "acknowledged_at"]
    list_filter = ["severity", "kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["charge_point__identity", "message", "kind"]
    list_select_related = ["charge_point"]
    readonly_fields = ["charge_point", "kind", "severity", "message", "payload", "created_at"]
    actions = ["acknowledge"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Acknowledge the selected events")
    def acknowledge(self, request, queryset):
        from django.utils import timezone

        self.message_user(
            request,
            f"{queryset.filter(acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())} event(s) acknowledged.",
        )
