"""Operator roles: the Django groups "Operator viewer", "Operator engineer" and "Operator
admin", and the permissions each holds. The data migration accounts/0003 creates them;
operator_groups_ensure() is idempotent, so it also repairs them after a change here.

Staff of an operator get one of these groups; their operator still limits which objects
they see (accounts/admin_scoping.py, the portal's and the operator API's scoping), the
groups limit what they may do with them. Superusers hold every permission.
"""

from __future__ import annotations

# Apps whose objects an operator manages.
OPERATOR_APPS = ("chargepoints", "sessions_app", "tariffs", "billing", "payments", "loadmanagement")
SEND_COMMANDS = "chargepoints.send_commands"

VIEWER = "Operator viewer"
ENGINEER = "Operator engineer"
ADMIN = "Operator admin"


def _role_permissions(permissions: list[tuple[str, str]]) -> dict[str, set[tuple[str, str]]]:
    """(app label, codename) pairs of each role, from all the permissions there are."""
    operator = [(app, code) for app, code in permissions if app in OPERATOR_APPS]
    viewer = {(app, code) for app, code in operator if code.startswith("view_")} | {("accounts", "view_user")}
    engineer = viewer | {
        ("chargepoints", "send_commands"),
        ("chargepoints", "change_chargepoint"),
        ("chargepoints", "change_connector"),
        ("chargepoints", "add_chargingprofile"),
        ("chargepoints", "change_chargingprofile"),
        ("chargepoints", "delete_chargingprofile"),
    }
    # What an operator's admin edits; platform data (market prices, wallets and their
    # ledger, payments, webhooks, the journal) stays read-only for operators.
    managed = [("chargepoints", m) for m in ("site", "chargepoint", "connector", "evse", "idtoken", "chargingprofile")]
    managed += [("tariffs", "tariff"), ("tariffs", "tariffassignment")]
    managed += [
        ("loadmanagement", m)
        for m in ("siteloadsettings", "feedergroup", "chargerload", "connectorload", "chargingpriority")
    ]
    admin = (
        engineer
        | {(app, f"{action}_{model}") for app, model in managed for action in ("add", "change", "delete")}
        | {
            ("accounts", "view_user"),
            ("accounts", "change_user"),
            ("accounts", "add_apikey"),
            ("accounts", "view_apikey"),
            ("accounts", "change_apikey"),
        }
    )
    return {VIEWER: viewer, ENGINEER: engineer, ADMIN: admin}


def operator_groups_ensure(group_model, permission_model) -> None:
    """Create or update the three groups (model classes passed in, so a migration can use
    its historical models)."""
    permissions = {
        (p.content_type.app_label, p.codename): p for p in permission_model.objects.select_related("content_type")
    }
    for name, wanted in _role_permissions(list(permissions)).items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set([permissions[key] for key in sorted(wanted) if key in permissions])


def operator_groups_refresh(apps, schema_editor=None) -> None:
    """RunPython body of the migrations that give the roles their permissions (accounts
    0003, chargepoints 0007, loadmanagement 0003): permissions are normally created after
    all migrations ran, and the roles need them now."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    operator_groups_ensure(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
