"""The test run's own keys in the shared Redis cache."""

from __future__ import annotations


def clear_cache_keys() -> int:
    """Delete this run's cache keys only.

    Never use cache.clear() in tests: on Redis it is FLUSHDB, which also wipes the channel
    layer's queues and the OCPP socket registry that live servers of the same run use."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    pattern = f"{settings.CACHES['default']['KEY_PREFIX']}:*"
    deleted = 0
    batch = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    return deleted
