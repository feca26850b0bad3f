"""Settings of site load management (smart charging). Owned by the loadmanagement app;
read from the environment. A site's own capacity, margin and strategy are data (its
SiteLoadSettings), not settings."""

import environ

_env = environ.Env()

# Every managed site is re-allocated this often (seconds), besides the runs that session
# starts, stops, status changes and capacity changes trigger.
LOADMANAGEMENT_INTERVAL_SECONDS = _env.float("LOADMANAGEMENT_INTERVAL_SECONDS", default=60.0)
# A triggered run waits this long, so a burst of events (a start and its status changes)
# gives one run.
LOADMANAGEMENT_TRIGGER_DELAY_SECONDS = _env.float("LOADMANAGEMENT_TRIGGER_DELAY_SECONDS", default=1.0)
# How long a charger may take to answer a SetChargingProfile of ours.
LOADMANAGEMENT_COMMAND_TIMEOUT = _env.float("LOADMANAGEMENT_COMMAND_TIMEOUT", default=15.0)
# Phase voltage for kW capacities and limits in W.
LOADMANAGEMENT_NOMINAL_VOLTAGE = _env.int("LOADMANAGEMENT_NOMINAL_VOLTAGE", default=230)
# "Unused" strategy: a car drawing less than its limit minus this headroom for
# LOADMANAGEMENT_UNUSED_AFTER_SECONDS gets its draw plus this headroom.
LOADMANAGEMENT_UNUSED_HEADROOM_AMPS = _env.float("LOADMANAGEMENT_UNUSED_HEADROOM_AMPS", default=2.0)
LOADMANAGEMENT_UNUSED_AFTER_SECONDS = _env.int("LOADMANAGEMENT_UNUSED_AFTER_SECONDS", default=180)
# A car measured above its limit by more than this (A), longer than the grace after the
# limit was sent, flags its charger.
LOADMANAGEMENT_OVER_LIMIT_TOLERANCE_AMPS = _env.float("LOADMANAGEMENT_OVER_LIMIT_TOLERANCE_AMPS", default=1.0)
LOADMANAGEMENT_OVER_LIMIT_GRACE_SECONDS = _env.int("LOADMANAGEMENT_OVER_LIMIT_GRACE_SECONDS", default=60)
# Site draw history kept for the portal's chart.
LOADMANAGEMENT_SAMPLE_RETENTION_DAYS = _env.int("LOADMANAGEMENT_SAMPLE_RETENTION_DAYS", default=7)

LOADMANAGEMENT_BEAT_SCHEDULE: dict = {
    "loadmanagement-sites-enforce": {
        "task": "loadmanagement.tasks.sites_enforce",
        "schedule": LOADMANAGEMENT_INTERVAL_SECONDS,
    },
    "loadmanagement-samples-purge": {"task": "loadmanagement.tasks.load_samples_purge", "schedule": 3600.0},
}
