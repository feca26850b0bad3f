"""Settings of the daphne processes the end-to-end tests start: the test settings, plus
what a test needs to vary through the environment."""

from config.settings.test import *  # noqa: F401,F403
from config.settings.test import env

OCPP_UNKNOWN_CHARGERS = env.str("OCPP_UNKNOWN_CHARGERS", default="refuse")
OCPP_COMMAND_TIMEOUT = env.float("OCPP_COMMAND_TIMEOUT", default=60.0)
# Charger passwords stored by Django's PBKDF2 hasher before issue 16 (upgraded at login)
# must still verify in servers of the security tests.
if env.bool("TEST_PBKDF2_HASHER", default=False):
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
# Tests that run a real Celery worker give their server and worker a queue of their own
# (other runs may share the Redis broker).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
