"""Settings of the Blue Current-compatible API, with defaults.

Read from Django settings when present (BLUECURRENT_<NAME>), else from the environment, else
the default. There is no settings fragment for this area yet (config/settings/parts is
owned elsewhere), so the environment fallback keeps it configurable per deployment.
"""
from __future__ import annotations

import os

from django.conf import settings

_DEFAULTS = {
    # Requests per API token per day; the counter resets at local midnight in LIMIT_TIME_ZONE.
    "DAILY_REQUEST_LIMIT": 10_000,
    "LIMIT_TIME_ZONE": "Europe/Amsterdam",
    # How long an OCPP command may take before the action is answered with TIMEOUT.
    "COMMAND_TIMEOUT": 30.0,
    # A long connection claims its API token for this long and refreshes the claim while open,
    # so a crashed server process does not lock the token out for longer than this.
    "CONNECTION_CLAIM_SECONDS": 90,
    # Nominal phase voltage used when a charger reports power but no per-phase readings.
    "NOMINAL_VOLTAGE": 230,
}


def get(name: str):
    default = _DEFAULTS[name]
    value = getattr(settings, f"BLUECURRENT_{name}", None)
    if value is None:
        value = os.environ.get(f"BLUECURRENT_{name}")
    if value is None:
        return default
    return type(default)(value)
