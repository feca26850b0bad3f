"""Operator roles learn load management: viewers see it, admins edit a site's settings,
feeder groups, charger and connector limits and priorities (accounts/permissions.py)."""

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
        ("loadmanagement", "0002_alter_siteloadsettings_fail_safe_amps"),
        ("accounts", "0003_operator_groups"),
    ]

    operations = [migrations.RunPython(groups_update, migrations.RunPython.noop)]
