"""Test settings: explicit, fast, and on the same real back ends as the run command."""
from .base import *  # noqa: F401,F403
from .base import CHANNEL_LAYERS, CSMS, DATABASES, VAR_DIR, env

DEBUG = False
SECRET_KEY = "test-only-secret-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# Each test run gets its own key space in the shared Redis.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = env.str("CHANNEL_PREFIX", default="csms-test")
CSMS["OCPP_UNKNOWN_CHARGERS"] = "refuse"

# SQLite tests use a file (not :memory:) so end-to-end tests can share the database with
# the server processes they start.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
