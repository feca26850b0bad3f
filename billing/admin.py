"""Admin for purchases (with their lines) and wallets (with their ledger, read-only)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from accounts.admin_scoping import ImmutableAdmin, OperatorScopedAdmin
from billing.models import Purchase, PurchaseLine, Wallet, WalletEntry
from billing.services import purchase_correct, purchase_reprice


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PurchaseLineInline(ReadOnlyInline):
    model = PurchaseLine
    fields = ["position", "kind", "description", "quantity", "unit", "unit_price", "amount"]
    readonly_fields = fields
    ordering = ["position", "id"]


@admin.register(Purchase)
class PurchaseAdmin(OperatorScopedAdmin):
    operator_path = "session__charge_point__site__operator_id"
    list_display = [
        "id",
        "session",
        "user",
        "total_price",
        "currency",
        "energy_kwh",
        "idle_minutes",
        "status",
        "payment_method",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "payment_method", "currency", "created_at"]
    search_fields = [
        "id",
        "user__username",
        "user__phone",
        "user__name",
        "session__transaction_id",
        "session__charge_point__identity",
    ]
    list_select_related = ["session", "session__charge_point", "user"]
    date_hierarchy = "created_at"
    raw_id_fields = ["session", "user", "tariff"]
    # Amounts come from the pricing function; change them through the services only.
    readonly_fields = [
        "session",
        "tariff",
        "currency",
        "energy_wh",
        "idle_minutes",
        "subtotal",
        "vat_amount",
        "total_price",
        "status",
        "paid_at",
        "priced_at",
        "created_at",
        "updated_at",
    ]
    inlines = [PurchaseLineInline]
    actions = ["reprice_selected", "correct_selected"]

    @admin.display(description="kWh", ordering="energy_wh")
    def energy_kwh(self, obj: Purchase) -> Decimal:
        return Decimal(obj.energy_wh) / 1000

    @admin.action(description="Re-price the selected open purchases from their sessions")
    def reprice_selected(self, request: HttpRequest, queryset) -> None:
        changed = 0
        for purchase in queryset.filter(status=Purchase.Status.OPEN).select_related(None):
            if purchase_reprice(purchase_id=purchase.pk).total_price != purchase.total_price:
                changed += 1
        self.message_user(
            request, f"Re-priced; {changed} total(s) changed. Paid, pending and void purchases were left alone."
        )

    @admin.action(
        description="Correct the selected purchases (re-price unpaid ones, refund the overcharge of paid ones)"
    )
    def correct_selected(self, request: HttpRequest, queryset) -> None:
        reason = "re-priced under the current billing rules (issue 15: idle time, refused sessions, minimum energy)"
        counts = {"repriced": 0, "refunded": 0, "unchanged": 0}
        for purchase_id in queryset.values_list("pk", flat=True):
            counts[purchase_correct(purchase_id=purchase_id, reason=reason).action] += 1
        self.message_user(
            request,
            f"{counts['repriced']} re-priced, {counts['refunded']} refunded to the wallet, {counts['unchanged']} unchanged.",
        )


class WalletEntryInline(ReadOnlyInline):
    model = WalletEntry
    fields = ["created_at", "kind", "amount", "purchase", "payment", "note", "idempotency_key"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]


@admin.register(Wallet)
class WalletAdmin(OperatorScopedAdmin):
    # A driver's wallet is used at every operator's chargers: platform data, superusers only.
    list_display = ["user", "currency", "balance", "created_at"]
    list_filter = ["currency"]
    search_fields = ["user__username", "user__phone", "user__name"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    inlines = [WalletEntryInline]

    def get_queryset(self, request: HttpRequest):
        # The balance is the sum of the ledger (never stored): one aggregate per page.
        zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=12, decimal_places=2))
        return super().get_queryset(request).annotate(ledger_balance=Coalesce(Sum("entries__amount"), zero))

    @admin.display(description="Balance", ordering="ledger_balance")
    def balance(self, obj: Wallet) -> Decimal:
        # SQLite's SUM drops trailing zeros; show cents like the ledger stores them.
        return Decimal(obj.ledger_balance).quantize(Decimal("0.01"))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PurchaseLine)
class PurchaseLineAdmin(ImmutableAdmin):
    """All priced lines across purchases, for reporting; lines change only by re-pricing."""

    operator_path = "purchase__session__charge_point__site__operator_id"
    list_display = ["purchase", "kind", "description", "quantity", "unit", "unit_price", "amount"]
    list_filter = ["kind"]
    search_fields = ["purchase__id", "description"]
    list_select_related = ["purchase"]


@admin.register(WalletEntry)
class WalletEntryAdmin(ImmutableAdmin):
    """The whole wallet ledger, searchable. Entries are never edited or deleted: a
    correction is a new adjustment entry."""

    list_display = ["created_at", "wallet", "kind", "amount", "purchase", "payment", "note"]
    list_filter = ["kind"]
    search_fields = ["wallet__user__phone", "wallet__user__name", "idempotency_key", "note"]
    list_select_related = ["wallet__user", "purchase", "payment"]
    date_hierarchy = "created_at"
