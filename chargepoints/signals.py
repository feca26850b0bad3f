"""What chargepoints tells the apps above it, without importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit when a charger's BootNotification was accepted. Keyword argument:
# charge_point_id.
charge_point_booted = Signal()

# Sent after commit when the BootNotifications of many chargers were accepted at once
# (charge_point_boot_many), instead of charge_point_booted for each. Keyword argument:
# charge_point_ids. A receiver of charge_point_booted should hear this one too.
charge_points_booted = Signal()
