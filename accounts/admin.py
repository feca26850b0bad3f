"""Admin for users, operators, API keys, access tokens and OTP challenges.

Secrets are never shown: API keys display their raw value once, right after creation.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q
from django.utils import timezone

from accounts import services
from accounts.admin_scoping import OperatorScopedAdmin, ReadOnlyAdmin, ScopedChoices
from accounts.models import AccessToken, ApiKey, Operator, OtpChallenge, User
from accounts.scoping import drivers_of_operator


class DriverOrStaffFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("drivers", "Drivers"), ("staff", "Staff")]

    def queryset(self, request, queryset):
        if self.value() == "drivers":
            return queryset.filter(phone__isnull=False, is_staff=False)
        if self.value() == "staff":
            return queryset.filter(is_staff=True)
        return queryset


# Fields only a superuser may change, on anyone (themselves included): with them a staff
# member with change_user could make itself superuser or move to another operator.
PRIVILEGE_FIELDS = ["operator", "is_staff", "is_superuser", "groups", "user_permissions"]


@admin.register(User)
class UserAdmin(ScopedChoices, DjangoUserAdmin):
    list_display = ["username", "phone", "name", "email", "operator", "is_staff", "is_active", "date_joined"]
    list_filter = [DriverOrStaffFilter, "is_staff", "is_active", "operator"]
    search_fields = ["username", "phone", "name", "email"]
    ordering = ["-date_joined"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("phone", "name", "email", "notification_token")}),
        ("Access", {"fields": ("operator", "is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "phone", "password1", "password2")}),)
    actions = ["revoke_tokens"]

    def get_queryset(self, request):
        """Staff see their operator's staff (not superusers) and its drivers (those who
        charged at its chargers or hold one of its cards); superusers see everyone."""
        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return queryset
        if user.operator_id is None:
            return queryset.none()
        drivers = drivers_of_operator(operator_id=user.operator_id).values("pk")
        return queryset.filter(Q(is_staff=True, is_superuser=False, operator_id=user.operator_id) | Q(pk__in=drivers))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += PRIVILEGE_FIELDS
        return readonly

    @admin.action(description="Revoke all tokens of the selected users")
    def revoke_tokens(self, request, queryset):
        count = sum(services.access_tokens_revoke_for_user(user=user) for user in queryset)
        self.message_user(request, f"{count} token(s) revoked.")


@admin.register(Operator)
class OperatorAdmin(OperatorScopedAdmin):
    operator_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(ApiKey)
class ApiKeyAdmin(OperatorScopedAdmin):
    operator_path = "operator_id"
    list_display = ["name", "operator", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["operator", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "operator__name"]
    fields = ["operator", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Staff create keys for their own operator only.
        if db_field.name == "operator" and not request.user.is_superuser:
            kwargs["queryset"] = Operator.objects.filter(pk=request.user.operator_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = ["prefix", "created_at", "last_used_at", "revoked_at"]
        return readonly + ["operator"] if obj else readonly

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        if db_field.name == "scope":
            field.required = False  # (left out: full, as keys made before scopes existed)
        return field

    def save_model(self, request, obj, form, change):
        if change:
            obj.scope = obj.scope or ApiKey.Scope.FULL
            obj.save(update_fields=["name", "scope"])
            return
        key, raw = services.api_key_create(operator=obj.operator, name=obj.name, scope=obj.scope)
        obj.pk = key.pk
        obj.prefix, obj.key_hash, obj.created_at = key.prefix, key.key_hash, key.created_at
        self.message_user(
            request,
            f"API key created: {raw} — copy it now, it is not shown again.",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.")


@admin.register(AccessToken)
class AccessTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "kind", "user", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "user__phone", "user__username", "name"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.access_token_revoke(token=token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")


@admin.register(OtpChallenge)
class OtpChallengeAdmin(ReadOnlyAdmin):
    list_display = ["phone", "client_ip", "created_at", "expires_at", "attempts", "consumed_at", "is_live"]
    search_fields = ["phone", "client_ip"]
    exclude = ["code_hash"]

    @admin.display(boolean=True, description="live")
    def is_live(self, obj) -> bool:
        return obj.consumed_at is None and obj.expires_at > timezone.now()
