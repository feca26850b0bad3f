from django.contrib import admin

from accounts.admin_scoping import OperatorScopedAdmin
from payments.models import Payment, Reservation, SandboxInvoice, WebhookEvent


@admin.register(Payment)
class PaymentAdmin(OperatorScopedAdmin):
    # Purchase payments belong to the charger's operator; wallet top-ups to no operator.
    operator_path = "purchase__session__charge_point__site__operator_id"
    list_display = (
        "public_id",
        "provider",
        "purpose",
        "user",
        "purchase",
        "amount",
        "currency",
        "status",
        "created_at",
    )
    list_filter = ("provider", "purpose", "status")
    search_fields = ("public_id", "provider_reference", "user__username", "user__phone")
    # Money state only changes through services (webhooks, polling); the admin just shows it.
    readonly_fields = [f.name for f in Payment._meta.fields if f.name != "id"]
    exclude = ("client_token",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Reservation)
class ReservationAdmin(OperatorScopedAdmin):
    operator_path = "charge_point__site__operator_id"
    list_display = (
        "id",
        "charge_point",
        "connector",
        "charge_tag",
        "provider",
        "max_amount",
        "captured_amount",
        "status",
        "created_at",
    )
    list_filter = ("provider", "status")
    search_fields = ("id", "charge_tag", "checkout_session_id", "payment_intent_id", "charge_point__identity")
    readonly_fields = [f.name for f in Reservation._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(OperatorScopedAdmin):
    list_display = ("provider", "event_type", "event_id", "received_at", "processed_at")
    list_filter = ("provider", "event_type")
    search_fields = ("event_id",)
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SandboxInvoice)
class SandboxInvoiceAdmin(OperatorScopedAdmin):
    list_display = ("reference", "kind", "amount", "currency", "status", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in SandboxInvoice._meta.fields]
