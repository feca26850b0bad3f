"""Operator roles learn load management: viewers see it, admins edit a site's settings,
feeder groups, charger and connector limits and priorities (accounts/permissions.py)."""

from django.db import migrations


def groups_update(apps, schema_editor):
    from accounts.permissions import operator_groups_refresh

    operator_groups_refresh(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("loadmanagement", "0002_alter_siteloadsettings_fail_safe_amps"),
        ("accounts", "0003_operator_groups"),
    ]

    operations = [migrations.RunPython(groups_update, migrations.RunPython.noop)]
