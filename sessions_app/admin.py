"""Admin for charge sessions and what hangs off them. Sessions come from chargers, so
their measured fields are read-only; samples, events and anomalies are records."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_scoping import OperatorScopedAdmin, ReadOnlyAdmin
from sessions_app.models import (
    ChargeSession,
    ChargingStateChange,
    MeterSample,
    RemoteStartRequest,
    SessionAnomaly,
    TransactionEvent,
)


class StateChangeInline(admin.TabularInline):
    model = ChargingStateChange
    extra = 0
    can_delete = False
    readonly_fields = ["at", "charging_state"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class TransactionEventInline(admin.TabularInline):
    model = TransactionEvent
    extra = 0
    can_delete = False
    fields = ["seq_no", "event_type", "trigger_reason", "timestamp", "offline", "charging_state", "received_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AnomalyInline(admin.TabularInline):
    model = SessionAnomaly
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "detail", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ChargeSession)
class ChargeSessionAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = [
        "id",
        "charge_point",
        "connector",
        "transaction_id",
        "user",
        "id_tag",
        "status",
        "charging_state",
        "started_at",
        "stopped_at",
        "energy_kwh",
        "stop_reason",
        "offline",
    ]
    list_filter = [
        "status",
        "ocpp_version",
        "charging_state",
        "stop_reason",
        "closed_by",
        "offline",
        "charge_point__site",
    ]
    search_fields = ["transaction_id", "id_tag", "charge_point__identity", "user__phone", "user__name"]
    date_hierarchy = "started_at"
    list_select_related = ["charge_point", "connector", "user"]
    raw_id_fields = ["user", "id_token", "connector", "charge_point"]
    readonly_fields = [
        "ocpp_version",
        "transaction_id",
        "remote_start_id",
        "started_at",
        "stopped_at",
        "meter_start_wh",
        "meter_stop_wh",
        "meter_last_wh",
        "soc_start_percent",
        "soc_percent",
        "power_w",
        "charging_state",
        "stop_reason",
        "stop_id_tag",
        "closed_by",
        "last_seq_no",
        "offline",
        "time_spent_charging_s",
        "created_at",
        "updated_at",
    ]
    inlines = [StateChangeInline, TransactionEventInline, AnomalyInline]
    show_full_result_count = False

    @admin.display(description="kWh")
    def energy_kwh(self, session: ChargeSession) -> str:
        return f"{session.energy_wh / 1000:.3f}"


@admin.register(MeterSample)
class MeterSampleAdmin(ReadOnlyAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = [
        "sampled_at",
        "charge_point",
        "connector",
        "session",
        "measurand",
        "phase",
        "value",
        "unit",
        "context",
    ]
    list_filter = ["measurand", "context", "phase"]
    search_fields = ["charge_point__identity", "session__transaction_id"]
    list_select_related = ["charge_point", "connector"]
    show_full_result_count = False
    list_per_page = 100


@admin.register(SessionAnomaly)
class SessionAnomalyAdmin(ReadOnlyAdmin):
    operator_path = "session__charge_point__site__operator_id"
    list_display = ["created_at", "session", "kind", "detail"]
    list_filter = ["kind"]
    search_fields = ["session__transaction_id", "session__charge_point__identity"]


@admin.register(TransactionEvent)
class TransactionEventAdmin(ReadOnlyAdmin):
    operator_path = "session__charge_point__site__operator_id"
    list_display = [
        "received_at",
        "session",
        "seq_no",
        "event_type",
        "trigger_reason",
        "timestamp",
        "offline",
        "charging_state",
    ]
    list_filter = ["event_type", "trigger_reason", "offline", "charging_state"]
    search_fields = ["session__transaction_id", "session__charge_point__identity"]
    list_select_related = ["session"]
    show_full_result_count = False


@admin.register(ChargingStateChange)
class ChargingStateChangeAdmin(ReadOnlyAdmin):
    operator_path = "session__charge_point__site__operator_id"
    list_display = ["at", "session", "charging_state"]
    list_filter = ["charging_state"]
    search_fields = ["session__transaction_id", "session__charge_point__identity"]
    list_select_related = ["session"]
    show_full_result_count = False


@admin.register(RemoteStartRequest)
class RemoteStartRequestAdmin(ReadOnlyAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = [
        "id",
        "requested_at",
        "charge_point",
        "evse_id",
        "id_token",
        "user",
        "status",
        "transaction_id",
        "session",
    ]
    list_filter = ["status"]
    search_fields = ["charge_point__identity", "id_token", "transaction_id"]
    list_select_related = ["charge_point", "user", "session"]
