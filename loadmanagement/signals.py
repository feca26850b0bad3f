"""Signals of load management (services send them; receivers act, so services need not
import the tasks that call them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after commit when a site's load settings changed. Keyword argument: site_id.
load_settings_changed = Signal()
