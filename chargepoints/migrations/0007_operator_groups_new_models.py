"""Operator roles learn the models of migrations 0004-0006 (connector reservations, local
authorisation lists, connector status history): viewers see them (accounts/permissions.py).
A database migrated before them had roles without those permissions."""

from django.db import migrations


def groups_update(apps, schema_editor):
    from accounts.permissions import operator_groups_refresh

    operator_groups_refresh(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("chargepoints", "0006_connector_status_change"),
        ("accounts", "0003_operator_groups"),
    ]

    operations = [migrations.RunPython(groups_update, migrations.RunPython.noop)]
