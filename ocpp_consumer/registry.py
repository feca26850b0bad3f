"""Where each connected charger's socket lives: identity -> the consumer's channel name.

Kept in Redis (the same server as the channel layer) so any process can route a command
to the process holding the socket. A plain Redis client, not the Django cache: the
unregister is an atomic compare-and-delete (a closing old connection must never remove
the registration of the connection that replaced it), and the registry lives in its own
logical database (settings.OCPP_REGISTRY_REDIS_DB) so a cache.clear() (FLUSHDB) does not
make every charger look offline. Consumers also restore a missing registration on each
Heartbeat and when the channel layer recovers, which covers a Redis restart.

Liveness: each process keeps a key with a short TTL and a set of the chargers it holds.
`sweep_dead_processes()` (run by every web process's keep-alive loop and by beat) finds
processes whose key expired, removes their registrations and returns those chargers, so
they are marked offline everywhere within about OCPP_PROCESS_TTL + the sweep interval
instead of after three missed heartbeats.

Every call here fails fast while Redis is down (short socket timeouts, and
accounts.channel_layer.redis_outage skips Redis for a moment after a failure): callers
treat RedisUnavailable as "the registry cannot tell now".
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

from accounts.channel_layer import REDIS_ERRORS, RedisUnavailable
from accounts.outages import redis_outage

logger = logging.getLogger(__name__)

# KEYS: socket key, the process's charger set. ARGV: registration, identity.
_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('srem', KEYS[2], ARGV[2])
  return redis.call('del', KEYS[1])
end
return 0
"""

# One dead process's chargers, atomically: skipped if its liveness key came back; the
# registrations still naming it are removed; returns the identities it held that no other
# connection holds now. KEYS: the process set. ARGV: process key prefix, socket key
# prefix, process id.
_SWEEP_PROCESS = """
local process_key = ARGV[1] .. ARGV[3]
if redis.call('exists', process_key) == 1 then return {} end
local chargers_key = process_key .. ':chargers'
local gone = {}
for _, identity in ipairs(redis.call('smembers', chargers_key)) do
  local key = ARGV[2] .. identity
  local raw = redis.call('get', key)
  local ours = true
  if raw then
    local ok, reg = pcall(cjson.decode, raw)
    ours = ok and type(reg) == 'table' and reg['process'] == ARGV[3]
    if ours then redis.call('del', key) end
  end
  if ours then table.insert(gone, identity) end
end
redis.call('del', chargers_key)
redis.call('srem', KEYS[1], ARGV[3])
return gone
"""


# A registration names the process that holds the socket; that process keeps the key
# `<prefix>:ocpp:process:<id>` alive (keep_alive()). When it dies without unregistering
# (crash, kill -9, lost host), the key expires within OCPP_PROCESS_TTL and lookup()
# treats (and removes) the registration as gone: commands answer ChargerOffline at once
# instead of waiting for a Timeout.
_LOOKUP = """
local raw = redis.call('get', KEYS[1])
if not raw then return false end
local ok, reg = pcall(cjson.decode, raw)
if ok and type(reg) == 'table' and reg['process'] and reg['process'] ~= '' then
  if redis.call('exists', ARGV[1] .. reg['process']) == 0 then
    redis.call('del', KEYS[1])
    return false
  end
end
return raw
"""
PROCESS_ID = uuid.uuid4().hex


@dataclass(frozen=True)
class Registration:
    channel_name: str
    protocol: str
    process: str = PROCESS_ID

    def encode(self) -> str:
        return json.dumps(
            {"channel": self.channel_name, "protocol": self.protocol, "process": self.process}, separators=(",", ":")
        )


# A registry call never waits long for a Redis that does not answer.
_CONNECT_TIMEOUT_S = 2.0
_SOCKET_TIMEOUT_S = 5.0


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    pool = redis.ConnectionPool.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_connect_timeout=_CONNECT_TIMEOUT_S,
        socket_timeout=_SOCKET_TIMEOUT_S,
    )
    pool.connection_kwargs["db"] = settings.OCPP_REGISTRY_REDIS_DB
    return redis.Redis(connection_pool=pool)


def _run(call, *, probe: bool = False):
    """Run one Redis call of the registry: RedisUnavailable, at once, for a moment after
    Redis failed (unless `probe`: a recovery attempt always tries)."""
    if not probe and redis_outage.should_skip():
        raise RedisUnavailable("Redis is unavailable")
    try:
        result = call(_redis())
    except REDIS_ERRORS as error:
        redis_outage.failed(error)
        raise RedisUnavailable(f"Redis is unavailable ({type(error).__name__})") from error
    redis_outage.succeeded()
    return result


def _prefix() -> str:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")


def _key(identity: str) -> str:
    return f"{_prefix()}:ocpp:socket:{identity}"


def _process_key_prefix() -> str:
    return f"{_prefix()}:ocpp:process:"


def _processes_key() -> str:
    return f"{_prefix()}:ocpp:processes"


def _chargers_key(process: str) -> str:
    return f"{_process_key_prefix()}{process}:chargers"


def _ttl_ms() -> int:
    return max(1, int(settings.OCPP_PROCESS_TTL * 1000))


def _alive(pipe, process: str) -> None:
    pipe.set(_process_key_prefix() + process, "1", px=_ttl_ms())
    pipe.sadd(_processes_key(), process)


_unregister_later: list[tuple[str, Registration]] = []


def unregister_later(identity: str, registration: Registration) -> None:
    """A socket closed while Redis was down: unregister it when Redis answers again (the
    next mark_alive), so commands do not wait on a channel nobody reads."""
    _unregister_later.append((identity, registration))


def mark_alive(process: str = PROCESS_ID) -> None:
    """(Re)set this process's liveness key, and do the unregisters an outage held up."""

    def call(client):
        pipe = client.pipeline(transaction=False)
        _alive(pipe, process)
        pipe.execute()

    _run(call, probe=True)
    while _unregister_later:
        identity, registration = _unregister_later[-1]
        unregister(identity, registration)  # (raises while Redis is down: kept for next time)
        _unregister_later.pop()


def mark_dead(process: str = PROCESS_ID) -> None:
    _run(lambda client: client.delete(_process_key_prefix() + process))


def sweep_dead_processes() -> list[str]:
    """Remove the registrations of processes whose liveness key expired; returns the
    identities they held that no other connection holds (to be marked offline)."""

    def call(client):
        gone: list[str] = []
        for process in client.smembers(_processes_key()):
            gone += client.eval(
                _SWEEP_PROCESS, 1, _processes_key(), _process_key_prefix(), f"{_prefix()}:ocpp:socket:", process
            )
        return gone

    return _run(call)


def register(identity: str, registration: Registration) -> Registration | None:
    """Point the identity at this connection; returns the one it replaces, if any."""

    def call(client):
        pipe = client.pipeline(transaction=False)
        _alive(pipe, registration.process)
        pipe.sadd(_chargers_key(registration.process), identity)
        pipe.set(_key(identity), registration.encode(), get=True)
        return pipe.execute()[-1]

    return _decode(_run(call))


def unregister(identity: str, registration: Registration) -> bool:
    """Remove the registration only if it is still this connection's."""
    return bool(
        _run(
            lambda client: client.eval(
                _COMPARE_AND_DELETE,
                2,
                _key(identity),
                _chargers_key(registration.process),
                registration.encode(),
                identity,
            )
        )
    )


def restore(identity: str, registration: Registration, *, probe: bool = False) -> bool:
    """Register again if the key is gone (Redis restarted or was flushed); never
    overwrites another connection's registration."""

    def call(client):
        pipe = client.pipeline(transaction=False)
        _alive(pipe, registration.process)
        pipe.sadd(_chargers_key(registration.process), identity)
        pipe.set(_key(identity), registration.encode(), nx=True)
        return pipe.execute()[-1]

    return bool(_run(call, probe=probe))


def lookup(identity: str) -> Registration | None:
    """The live registration of a charger; None when it has none or its process is dead."""
    return _decode(_run(lambda client: client.eval(_LOOKUP, 1, _key(identity), _process_key_prefix())))


def forget(identity: str) -> None:
    _run(lambda client: client.delete(_key(identity)))


def _decode(raw: str | None) -> Registration | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Registration(channel_name=data["channel"], protocol=data["protocol"], process=data.get("process", ""))
