"""Settings of the benchmarked daphne: the dev settings, chargers without passwords (the
benchmark measures messaging, not PBKDF2 at connect), quiet logs."""

from config.settings.dev import *  # noqa: F401,F403

DEBUG = False
OCPP_REQUIRE_PASSWORD = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

from bench.ocpp_load import gclog  # noqa: E402

if _os.path.basename(_sys.argv[0]) == "daphne":  # not in run.py's migrate and set-up commands
    gclog.install("server")
