"""Settings of the drivers area (driver app API, OTP login, live events, NATS).

Owned by that area; read from the environment.
"""

import environ

_env = environ.Env()

# --- OTP login ---------------------------------------------------------------------------
DRIVERS_OTP_LENGTH = _env.int("DRIVERS_OTP_LENGTH", default=6)
DRIVERS_OTP_TTL_SECONDS = _env.int("DRIVERS_OTP_TTL_SECONDS", default=300)
DRIVERS_OTP_MAX_ATTEMPTS = _env.int("DRIVERS_OTP_MAX_ATTEMPTS", default=5)
# The seed's fixed development code. Off unless explicitly enabled: with it on, every code
# sent is this one, so never enable it where real drivers log in.
DRIVERS_OTP_DEV_CODE_ENABLED = _env.bool("DRIVERS_OTP_DEV_CODE_ENABLED", default=False)
DRIVERS_OTP_DEV_CODE = _env.str("DRIVERS_OTP_DEV_CODE", default="0000")
# Rate limits, "<count>/<seconds>" fixed windows in the Redis cache.
# Per (phone, address) is the tight one; per phone is a cap on SMS to one number from
# everywhere together (set above what one address may send, so a single attacker cannot
# lock a driver out).
DRIVERS_OTP_RATE_PER_PHONE_AND_IP = _env.str("DRIVERS_OTP_RATE_PER_PHONE_AND_IP", default="5/3600")
DRIVERS_OTP_RATE_PER_PHONE = _env.str("DRIVERS_OTP_RATE_PER_PHONE", default="20/3600")
DRIVERS_OTP_RATE_PER_IP = _env.str("DRIVERS_OTP_RATE_PER_IP", default="30/3600")
DRIVERS_OTP_CHECK_RATE_PER_IP = _env.str("DRIVERS_OTP_CHECK_RATE_PER_IP", default="60/3600")
# Phone numbers without a leading "+" are read in this region (ISO 3166-1 alpha-2); empty
# means such numbers are refused.
DRIVERS_DEFAULT_PHONE_REGION = _env.str("DRIVERS_DEFAULT_PHONE_REGION", default="") or None
# Behind reverse proxies, the client address comes from X-Forwarded-For as far as
# TRUSTED_PROXY_COUNT (config/settings/parts/security.py) allows.

# --- Tokens ------------------------------------------------------------------------------
DRIVERS_TOKEN_TTL_DAYS = _env.int("DRIVERS_TOKEN_TTL_DAYS", default=180)  # 0 = never expires

# --- SMS ---------------------------------------------------------------------------------
# http (a real gateway, SMS_HTTP_*), console (codes in the log: the run command's
# default, refused in production without ALLOW_CONSOLE_SMS) or disabled (OTP login answers
# a clear error). Empty means not configured: production refuses to start (config/checks.py).
SMS_PROVIDER = _env.str("SMS_PROVIDER", default="")
SMS_HTTP_URL = _env.str("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = _env.str("SMS_HTTP_TOKEN", default="")
SMS_HTTP_SENDER = _env.str("SMS_HTTP_SENDER", default="CSMS")
SMS_HTTP_TIMEOUT = _env.float("SMS_HTTP_TIMEOUT", default=10.0)

# --- Charging ----------------------------------------------------------------------------
# A driver without an authorised card reservation needs at least this wallet balance.
DRIVERS_MIN_WALLET_BALANCE = _env.str("DRIVERS_MIN_WALLET_BALANCE", default="1.00")
DRIVERS_COMMAND_TIMEOUT = _env.float("DRIVERS_COMMAND_TIMEOUT", default=30.0)
# finish: how long to wait for the charger's stop before closing the session ourselves.
DRIVERS_FINISH_WAIT_SECONDS = _env.float("DRIVERS_FINISH_WAIT_SECONDS", default=20.0)
DRIVERS_FINISH_POLL_SECONDS = _env.float("DRIVERS_FINISH_POLL_SECONDS", default=0.25)
# finish on a session the charger already closed answers that session's purchase when it
# stopped less than this long ago.
DRIVERS_FINISH_GRACE_SECONDS = _env.int("DRIVERS_FINISH_GRACE_SECONDS", default=3600)
DRIVERS_CHARGING_EVENT_INTERVAL = _env.float("DRIVERS_CHARGING_EVENT_INTERVAL", default=3.0)

# --- NATS --------------------------------------------------------------------------------
# Where we publish (may carry our own credentials: nats://user:pass@host:4222). Empty: no NATS.
NATS_URL = _env.str("NATS_URL", default="")
# What the app is told to connect to (defaults to NATS_URL without credentials).
NATS_PUBLIC_SERVERS = _env.str("NATS_PUBLIC_SERVERS", default="")
NATS_SUBJECT_PREFIX = _env.str("NATS_SUBJECT_PREFIX", default="drivers")
# Drivers' NATS passwords are HMAC-SHA256(NATS_DRIVER_SECRET, user name); empty = SECRET_KEY.
NATS_DRIVER_SECRET = _env.str("NATS_DRIVER_SECRET", default="")
# Events wait in memory (per process) while NATS is unreachable; past this many the oldest
# are dropped and counted (drivers/nats_publisher.py).
NATS_OUTBOX_LIMIT = _env.int("NATS_OUTBOX_LIMIT", default=10_000)
# Seconds between connection attempts while NATS is unreachable: 0.25 s, doubling up to this.
NATS_RECONNECT_MAX_WAIT = _env.float("NATS_RECONNECT_MAX_WAIT", default=5.0)

DRIVERS_BEAT_SCHEDULE: dict = {
    "drivers-charging-events": {
        "task": "drivers.tasks.emit_charging_events",
        "schedule": DRIVERS_CHARGING_EVENT_INTERVAL,
        # A tick that is not picked up in time is useless: the next one carries fresher data.
        "options": {"expires": DRIVERS_CHARGING_EVENT_INTERVAL},
    },
}
