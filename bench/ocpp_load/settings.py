"""Settings of the benchmarked daphne: the dev settings, chargers without passwords (the
benchmark measures messaging, not PBKDF2 at connect), quiet logs."""
from config.settings.dev import *  # noqa: F401,F403

DEBUG = False
OCPP_REQUIRE_PASSWORD = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
