"""The operator roles: "Operator viewer", "Operator engineer" (sends charger commands) and
"Operator admin" (accounts/permissions.py)."""

from django.db import migrations


def groups_create(apps, schema_editor):
    from accounts.permissions import operator_groups_refresh

    operator_groups_refresh(apps, schema_editor)


def groups_remove(apps, schema_editor):
    from accounts.permissions import ADMIN, ENGINEER, VIEWER

    apps.get_model("auth", "Group").objects.filter(name__in=[VIEWER, ENGINEER, ADMIN]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_key_scope"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("chargepoints", "0003_charge_point_send_commands_permission"),
        ("sessions_app", "0004_meter_samples_without_redundant_indexes"),
        ("tariffs", "0001_initial"),
        ("billing", "0003_purchase_purchase_created_desc"),
        ("payments", "0002_sandbox_invoice"),
    ]

    operations = [migrations.RunPython(groups_create, groups_remove)]
