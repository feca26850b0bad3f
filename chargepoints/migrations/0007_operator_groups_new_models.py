"""Operator roles learn the models of migrations 0004-0006 (connector reservations, local
authorisation lists, connector status history): viewers see them (accounts/permissions.py).
A database migrated before them had roles without those permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def groups_update(apps, schema_editor):
    from accounts.permissions import operator_groups_ensure

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    operator_groups_ensure(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("chargepoints", "0006_connector_status_change"),
        ("accounts", "0003_operator_groups"),
    ]

    operations = [migrations.RunPython(groups_update, migrations.RunPython.noop)]
