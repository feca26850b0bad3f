"""Settings of the benchmarked daphne: the dev settings (or, with BENCH_SETTINGS=production,
the production ones), quiet logs. Passwords are required
(the fleet traffic authenticates) except for the old bare traffic (BENCH_TRAFFIC=bare),
whose chargers have none."""

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

if _os.environ.get("BENCH_SETTINGS") == "production":  # (needs SECRET_KEY and ALLOWED_HOSTS)
    from config.settings.production import *  # noqa: F401,F403
else:
    from config.settings.dev import *  # noqa: F401,F403

DEBUG = False
OCPP_REQUIRE_PASSWORD = _os.environ.get("BENCH_TRAFFIC", "fleet") != "bare"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

from bench.ocpp_load import gclog  # noqa: E402

if _os.path.basename(_sys.argv[0]) == "daphne":  # not in run.py's migrate and set-up commands
    gclog.install("server")

# PostgreSQL session settings for a diagnosis run, e.g. auto_explain of slow statements:
# BENCH_PG_OPTIONS="-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=20"
if _os.environ.get("BENCH_PG_OPTIONS") and DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = _os.environ["BENCH_PG_OPTIONS"]  # noqa: F405
