"""Admin base classes that keep staff inside their operator.

Staff who belong to an operator see only that operator's objects, and forms offer (and
accept) only those as choices; superusers see all.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet


def scoped_choices(admin_site, model, request) -> QuerySet | None:
    """The objects of `model` this staff member may pick in a form: what the model's own
    admin shows them (None: no limit, for superusers and models no admin scopes)."""
    if request.user.is_superuser:
        return None
    related_admin = admin_site._registry.get(model)
    if related_admin is None or not isinstance(related_admin, ScopedChoices):
        return None
    return related_admin.get_queryset(request)


class ScopedChoices:
    """Foreign-key and many-to-many choices (raw-id and autocomplete ones included: the
    form field validates against the same queryset) limited to the related model's scoped
    admin queryset, so a staff member can neither see nor submit another operator's objects."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            scoped = scoped_choices(self.admin_site, db_field.related_model, request)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            scoped = scoped_choices(self.admin_site, db_field.related_model, request)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class OperatorScopedAdmin(ScopedChoices, admin.ModelAdmin):
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
