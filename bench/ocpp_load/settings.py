"""Settings of the benchmarked daphne: the dev settings, quiet logs. Passwords are required
(the fleet traffic authenticates) except for the old bare traffic (BENCH_TRAFFIC=bare),
whose chargers have none."""

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

from config.settings.dev import *  # noqa: F401,F403

DEBUG = False
OCPP_REQUIRE_PASSWORD = _os.environ.get("BENCH_TRAFFIC", "fleet") != "bare"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

from bench.ocpp_load import gclog  # noqa: E402

if _os.path.basename(_sys.argv[0]) == "daphne":  # not in run.py's migrate and set-up commands
    gclog.install("server")
