"""Admin base classes that keep staff inside their operator.

Staff who belong to an operator see only that operator's objects; superusers see all.
"""
from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet


class OperatorScopedAdmin(admin.ModelAdmin):
    """Limits the queryset to the staff member's operator through `operator_path`.

    Models that belong to no operator (platform data: wallets, webhooks, ...) leave
    `operator_path` empty and are shown to superusers only; `shared = True` marks data
    every operator may read (market prices)."""

    operator_path = ""
    shared = False

    def get_queryset(self, request) -> QuerySet:
        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser or self.shared:
            return queryset
        if user.operator_id is None or not self.operator_path:
            return queryset.none()
        return queryset.filter(**{self.operator_path: user.operator_id})


class ReadOnlyAdmin(OperatorScopedAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ImmutableAdmin(ReadOnlyAdmin):
    """Records that are never edited nor deleted (ledgers, priced lines)."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
