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

import json
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Registration:
    channel_name: str
    protocol: str

    def encode(self) -> str:
        return json.dumps({"channel": self.channel_name, "protocol": self.protocol}, separators=(",", ":"))


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    pool = redis.ConnectionPool.from_url(settings.REDIS_URL, decode_responses=True)
    pool.connection_kwargs["db"] = settings.OCPP_REGISTRY_REDIS_DB
    return redis.Redis(connection_pool=pool)


def _key(identity: str) -> str:
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")
    return f"{prefix}:ocpp:socket:{identity}"


def register(identity: str, registration: Registration) -> Registration | None:
    """Point the identity at this connection; returns the one it replaces, if any."""
    old = _client().set(_key(identity), registration.encode(), get=True)
    return _decode(old)


def unregister(identity: str, registration: Registration) -> bool:
    """Remove the registration only if it is still this connection's."""
    return bool(_client().eval(_COMPARE_AND_DELETE, 1, _key(identity), registration.encode()))


def restore(identity: str, registration: Registration) -> bool:
    """Register again if the key is gone (Redis restarted or was flushed); never
    overwrites another connection's registration."""
    return bool(_client().set(_key(identity), registration.encode(), nx=True))


def lookup(identity: str) -> Registration | None:
    return _decode(_client().get(_key(identity)))


def forget(identity: str) -> None:
    _client().delete(_key(identity))


def _decode(raw: str | None) -> Registration | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Registration(channel_name=data["channel"], protocol=data["protocol"])
