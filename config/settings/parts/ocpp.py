"""Settings of the ocpp area. Owned by that area; read from the environment."""

import environ

_env = environ.Env()

# A charger id we do not know: "refuse" it, or register it as "pending" for an operator to
# accept (production refuses to start with "pending" unless ALLOW_UNKNOWN_CHARGERS_PENDING).
OCPP_UNKNOWN_CHARGERS = _env.str("OCPP_UNKNOWN_CHARGERS", default="refuse")
# Seconds, sent in the BootNotification answer.
OCPP_HEARTBEAT_INTERVAL = _env.int("OCPP_HEARTBEAT_INTERVAL", default=300)
# Seconds a command waits for the charger's answer (OCPP.Core's 60 s).
OCPP_COMMAND_TIMEOUT = _env.float("OCPP_COMMAND_TIMEOUT", default=60.0)
# Journal frames older than this are purged.
OCPP_JOURNAL_RETENTION_DAYS = _env.int("OCPP_JOURNAL_RETENTION_DAYS", default=90)
# A charger that missed this many heartbeats is marked offline by the sweep.
OCPP_OFFLINE_AFTER_MISSED_HEARTBEATS = _env.int("OCPP_OFFLINE_AFTER_MISSED_HEARTBEATS", default=3)

# Subprotocols in order of preference (only those with handlers are offered back).
OCPP_SUBPROTOCOLS = _env.list("OCPP_SUBPROTOCOLS", default=["ocpp2.0.1", "ocpp1.6"])
# Frames longer than this many characters (of the decoded text) get a CALLERROR, or a 1009
# close when no unique id can be read. OCPP_MAX_FRAME_BYTES is its former, misleading name.
OCPP_MAX_FRAME_CHARS = _env.int("OCPP_MAX_FRAME_CHARS", default=_env.int("OCPP_MAX_FRAME_BYTES", default=65536))
# last_seen_at is written at most this often for frames other than Heartbeat.
OCPP_TOUCH_EVERY_SECONDS = _env.float("OCPP_TOUCH_EVERY_SECONDS", default=60.0)
# An OCPP 2.0.1 TransactionEvent Updated is answered with the session's running cost (a
# personal message for the station's display) at most once per this many seconds per
# transaction; the Updated frames between are answered without it. Pricing a session reads
# all its samples, so pricing every frame made each frame slower as the session grew
# (issue 20). 0 prices every frame.
OCPP_RUNNING_COST_EVERY_SECONDS = _env.float("OCPP_RUNNING_COST_EVERY_SECONDS", default=60.0)

# A known charger without a stored password may connect only when this is False
# (security profile 0, e.g. behind a VPN); unknown chargers always need one to be Pending.
OCPP_REQUIRE_PASSWORD = _env.bool("OCPP_REQUIRE_PASSWORD", default=True)
# Redis logical database of the charger -> channel registry (not the cache's, see
# ocpp_consumer/registry.py). Use 0 where the Redis offers only one database.
OCPP_REGISTRY_REDIS_DB = _env.int("OCPP_REGISTRY_REDIS_DB", default=1)

# Young-generation GC threshold set (after gc.freeze) when the first charger connects, and
# the connection-aware freezing that goes with it; 0 leaves the interpreter's defaults.
# See ocpp_consumer/gc_policy.py.
OCPP_GC_GEN0_THRESHOLD = _env.int("OCPP_GC_GEN0_THRESHOLD", default=50_000)
# cp.state fan-out of live readings (MeterValues) is coalesced to at most one message per
# charger connector per this many seconds, always sending the latest; a status change
# goes out at once.
OCPP_STATE_FANOUT_INTERVAL = _env.float("OCPP_STATE_FANOUT_INTERVAL", default=1.0)

# A charger's successful Basic-auth check is remembered in-process (as a keyed digest, for
# that charger and stored hash) this long, so a reconnect storm skips the slow hasher.
OCPP_PASSWORD_CACHE_SECONDS = _env.float("OCPP_PASSWORD_CACHE_SECONDS", default=300.0)
# The HMAC key of stored charger passwords (chargepoints/charger_secrets.py). Empty: a key
# derived from SECRET_KEY, so rotating SECRET_KEY then locks every charger out; set this
# to keep charger passwords independent of SECRET_KEY.
OCPP_PASSWORD_KEY = _env.str("OCPP_PASSWORD_KEY", default="")
# Basic-auth checks of older (PBKDF2) password hashes run in a small thread pool of their
# own, never on the database thread that commits every charger's frames; more than
# OCPP_AUTH_MAX_WAITING such checks queued at once are refused at once (the charger
# retries). Current (HMAC) hashes are checked inline: microseconds, no queue.
OCPP_AUTH_THREADS = _env.int("OCPP_AUTH_THREADS", default=2)
OCPP_AUTH_MAX_WAITING = _env.int("OCPP_AUTH_MAX_WAITING", default=200)
# While more than this many chargers are in their handshake at once (a fleet reconnecting
# after a restart), connected chargers' frames wait so the handshakes finish within
# daphne's connect timeout (ocpp_consumer.consumer.handshakes; 0 = off).
OCPP_HANDSHAKES_FIRST_ABOVE = _env.int("OCPP_HANDSHAKES_FIRST_ABOVE", default=50)
# Failed Basic-auth attempts, counted in-process per charger id and per source address:
# past the allowance each further failure doubles a lock-out (from OCPP_AUTH_BACKOFF_SECONDS
# up to OCPP_AUTH_BACKOFF_MAX_SECONDS) during which connects are refused without checking
# a password, except a charger whose password matches its cached successful check.
# Counts are forgotten OCPP_AUTH_FAILURE_WINDOW_SECONDS after the last failure.
OCPP_AUTH_FAILURES_PER_IDENTITY = _env.int("OCPP_AUTH_FAILURES_PER_IDENTITY", default=5)
OCPP_AUTH_FAILURES_PER_ADDRESS = _env.int("OCPP_AUTH_FAILURES_PER_ADDRESS", default=20)
OCPP_AUTH_BACKOFF_SECONDS = _env.float("OCPP_AUTH_BACKOFF_SECONDS", default=1.0)
OCPP_AUTH_BACKOFF_MAX_SECONDS = _env.float("OCPP_AUTH_BACKOFF_MAX_SECONDS", default=300.0)
OCPP_AUTH_FAILURE_WINDOW_SECONDS = _env.float("OCPP_AUTH_FAILURE_WINDOW_SECONDS", default=900.0)
# Each web process keeps a liveness key in Redis with this TTL (refreshed every third of
# it); a charger registered by a process whose key expired (the process died without
# unregistering) counts as offline.
OCPP_PROCESS_TTL = _env.float("OCPP_PROCESS_TTL", default=30.0)
# Beat also sweeps the chargers of dead web processes offline this often (each web
# process does too, every third of OCPP_PROCESS_TTL): together at most about
# OCPP_PROCESS_TTL + this many seconds after a process died (ocpp_consumer/liveness.py).
OCPP_DEAD_PROCESS_SWEEP_SECONDS = _env.float("OCPP_DEAD_PROCESS_SWEEP_SECONDS", default=15.0)

# An active session whose charger has been offline this long is closed by the back office
# at its last meter reading (the orphan sweep), so the driver's card is free again. One
# whose charger rebooted and then reported the connector Available is closed at once.
SESSIONS_ORPHAN_OFFLINE_SECONDS = _env.int("SESSIONS_ORPHAN_OFFLINE_SECONDS", default=2 * 3600)

# A start or stop timestamp further than this in the future (or before the charger's boot,
# or a stop before its start) is recorded as sent, flagged, and the server's receive time
# is used instead.
SESSIONS_MAX_CLOCK_AHEAD_SECONDS = _env.int("SESSIONS_MAX_CLOCK_AHEAD_SECONDS", default=600)

OCPP_BEAT_SCHEDULE: dict = {
    "ocpp-journal-purge": {"task": "chargepoints.tasks.ocpp_journal_purge", "schedule": 3600.0},
    "sessions-orphan-sweep": {"task": "sessions_app.tasks.charge_session_orphan_sweep", "schedule": 300.0},
    "ocpp-offline-sweep": {"task": "chargepoints.tasks.charge_point_offline_sweep", "schedule": 60.0},
    "connector-reservations-expire": {"task": "chargepoints.tasks.connector_reservations_expire", "schedule": 30.0},
    "ocpp-dead-process-sweep": {
        "task": "ocpp_consumer.tasks.ocpp_dead_process_sweep",
        "schedule": OCPP_DEAD_PROCESS_SWEEP_SECONDS,
    },
}
