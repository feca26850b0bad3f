"""Migration chargepoints 0007: operator roles of a database migrated before the status
history, reservation and local list models learn their permissions."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from accounts.permissions import VIEWER, operator_groups_ensure

pytestmark = pytest.mark.django_db

NEW = ("view_connectorstatuschange", "view_connectorreservation", "view_localauthlist")


def test_the_viewer_role_gets_the_new_models_permissions_back():
    operator_groups_ensure(Group, Permission)  # (a transactional test before may have flushed the roles)
    viewer = Group.objects.get(name=VIEWER)
    viewer.permissions.remove(*Permission.objects.filter(codename__in=NEW))  # as on an older database
    assert not viewer.permissions.filter(codename__in=NEW).exists()
    name = "0007_operator_groups_new_models"
    migration = importlib.import_module(f"chargepoints.migrations.{name}")
    # The historical models the migration runs with (not the live app registry).
    state = MigrationLoader(connection).project_state(("chargepoints", name))
    migration.groups_update(state.apps, None)
    assert set(viewer.permissions.filter(codename__in=NEW).values_list("codename", flat=True)) == set(NEW)
