"""Where each connected charger's socket lives: identity -> the consumer's channel name.

Kept in Redis (the same server as the channel layer) so any process can route a command
to the process holding the socket. A plain Redis client, not the Django cache: the
unregister is an atomic compare-and-delete (a closing old connection must never remove
the registration of the connection that replaced it), and the registry lives in its own
logical database (settings.OCPP_REGISTRY_REDIS_DB) so a cache.clear() (FLUSHDB) does not
make every charger look offline. Consumers also restore a missing registration on each
Heartbeat, which covers a Redis restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
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


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    pool = redis.ConnectionPool.from_url(settings.REDIS_URL, decode_responses=True)
    pool.connection_kwargs["db"] = settings.OCPP_REGISTRY_REDIS_DB
    return redis.Redis(connection_pool=pool)


def _prefix() -> str:
    return settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")


def _key(identity: str) -> str:
    return f"{_prefix()}:ocpp:socket:{identity}"


def _process_key_prefix() -> str:
    return f"{_prefix()}:ocpp:process:"


def _ttl_ms() -> int:
    return max(1, int(settings.OCPP_PROCESS_TTL * 1000))


def mark_alive(process: str = PROCESS_ID) -> None:
    """(Re)set this process's liveness key."""
    _client().set(_process_key_prefix() + process, "1", px=_ttl_ms())


def mark_dead(process: str = PROCESS_ID) -> None:
    _client().delete(_process_key_prefix() + process)


async def keep_alive() -> None:
    """Refresh this process's liveness key every third of OCPP_PROCESS_TTL, forever (one
    task per process, started by the consumer)."""
    from asgiref.sync import sync_to_async

    while True:
        try:
            await sync_to_async(mark_alive, thread_sensitive=False)()
        except Exception:
            logger.warning("could not refresh the OCPP process liveness key", exc_info=True)
        await asyncio.sleep(settings.OCPP_PROCESS_TTL / 3)


def register(identity: str, registration: Registration) -> Registration | None:
    """Point the identity at this connection; returns the one it replaces, if any."""
    pipe = _client().pipeline(transaction=False)
    pipe.set(_process_key_prefix() + registration.process, "1", px=_ttl_ms())
    pipe.set(_key(identity), registration.encode(), get=True)
    _, old = pipe.execute()
    return _decode(old)


def unregister(identity: str, registration: Registration) -> bool:
    """Remove the registration only if it is still this connection's."""
    return bool(_client().eval(_COMPARE_AND_DELETE, 1, _key(identity), registration.encode()))


def restore(identity: str, registration: Registration) -> bool:
    """Register again if the key is gone (Redis restarted or was flushed); never
    overwrites another connection's registration."""
    return bool(_client().set(_key(identity), registration.encode(), nx=True))


def lookup(identity: str) -> Registration | None:
    """The live registration of a charger; None when it has none or its process is dead."""
    return _decode(_client().eval(_LOOKUP, 1, _key(identity), _process_key_prefix()))


def forget(identity: str) -> None:
    _client().delete(_key(identity))


def _decode(raw: str | None) -> Registration | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Registration(channel_name=data["channel"], protocol=data["protocol"], process=data.get("process", ""))
