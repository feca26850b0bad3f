"""Settings of the Blue Current-compatible API (/haserver). Owned by that app; read from
the environment."""

import environ

_env = environ.Env()

# Requests per API token per day; the counter resets at local midnight in this time zone.
BLUECURRENT_DAILY_REQUEST_LIMIT = _env.int("BLUECURRENT_DAILY_REQUEST_LIMIT", default=10_000)
BLUECURRENT_LIMIT_TIME_ZONE = _env.str("BLUECURRENT_LIMIT_TIME_ZONE", default="Europe/Amsterdam")
# How long an OCPP command may take before the action is answered with TIMEOUT.
BLUECURRENT_COMMAND_TIMEOUT = _env.float("BLUECURRENT_COMMAND_TIMEOUT", default=30.0)
# A long connection claims its API token for this long and refreshes the claim while open,
# so a crashed server process does not lock the token out for longer than this.
BLUECURRENT_CONNECTION_CLAIM_SECONDS = _env.int("BLUECURRENT_CONNECTION_CLAIM_SECONDS", default=90)
# Nominal phase voltage used when a charger reports power but no per-phase readings.
BLUECURRENT_NOMINAL_VOLTAGE = _env.int("BLUECURRENT_NOMINAL_VOLTAGE", default=230)
# After a charger accepted START_SESSION, how long we watch for the transaction it starts:
# when we refuse it (e.g. ConcurrentTx, the card charging elsewhere) the client is told.
BLUECURRENT_START_WATCH_SECONDS = _env.float("BLUECURRENT_START_WATCH_SECONDS", default=120.0)
