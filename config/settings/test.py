"""Test settings: explicit, fast, and on the same real back ends as the run command."""

import os

from .base import *  # noqa: F401,F403
from .base import CACHES, CHANNEL_LAYERS, DATABASES, VAR_DIR, env

DEBUG = False
SECRET_KEY = "test-only-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
OCPP_UNKNOWN_CHARGERS = "refuse"
# The offline providers the tests drive (off by default everywhere but the run command).
PAYMENTS_SANDBOX_ENABLED = True
QPAY_FALLBACK_TO_SANDBOX = True
SMS_PROVIDER = "console"

# Each test run gets its own key space in the shared Redis (several runs may share one
# server). Exported, so server processes that tests start inherit the same prefix.
# pytest-xdist workers inherit the controller's environment: each worker gets its own keys
# (and pytest-django gives each its own test database).
_run_id = os.environ.setdefault("CSMS_TEST_RUN_ID", str(os.getpid()))
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker:
    _run_id = f"{_run_id}-{_worker}"
    os.environ["CHANNEL_PREFIX"] = f"csms-test-{_run_id}"
os.environ.setdefault("CHANNEL_PREFIX", f"csms-test-{_run_id}")
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["CHANNEL_PREFIX"]
CACHES["default"]["KEY_PREFIX"] = f"csms-test-{_run_id}"

# SQLite tests use a file (not :memory:) so end-to-end tests can share the database with
# the server processes they start; one file per run so concurrent runs do not collide.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{_run_id}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_run_id}"}
