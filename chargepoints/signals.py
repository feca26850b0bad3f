"""What chargepoints tells the apps above it, without importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit when a charger's BootNotification was accepted. Keyword argument:
# charge_point_id.
charge_point_booted = Signal()
