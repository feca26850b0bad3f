"""Per-API-token daily request limit and the one-long-connection-per-token claim, in the
shared cache (Redis), so they hold across server processes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone


def _local_now(now: datetime | None = None) -> datetime:
    return (now or timezone.now()).astimezone(ZoneInfo(settings.BLUECURRENT_LIMIT_TIME_ZONE))


def seconds_until_reset(now: datetime | None = None) -> int:
    local = _local_now(now)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return max(1, int((midnight - local).total_seconds()))


def _counter_key(api_token_id: int, now: datetime | None = None) -> str:
    return f"bluecurrent:requests:{api_token_id}:{_local_now(now).date().isoformat()}"


def request_count_hit(*, api_token_id: int, now: datetime | None = None) -> bool:
    """Count one request; True while the token is within today's limit."""
    key = _counter_key(api_token_id, now)
    # Keep the key a little past midnight so a late request of the old day still finds it.
    cache.add(key, 0, timeout=seconds_until_reset(now) + 300)
    count = cache.incr(key)
    return count <= settings.BLUECURRENT_DAILY_REQUEST_LIMIT


def request_count_set(*, api_token_id: int, count: int, now: datetime | None = None) -> None:
    """For operators and tests: set today's counter of a token."""
    cache.set(_counter_key(api_token_id, now), count, timeout=seconds_until_reset(now) + 300)


def _claim_key(api_token_id: int) -> str:
    return f"bluecurrent:connection:{api_token_id}"


def connection_claim(*, api_token_id: int, channel_name: str) -> bool:
    """Claim the token's single long connection; True if it is ours (new or already ours)."""
    key = _claim_key(api_token_id)
    if cache.add(key, channel_name, timeout=settings.BLUECURRENT_CONNECTION_CLAIM_SECONDS):
        return True
    return cache.get(key) == channel_name


def connection_refresh(*, api_token_id: int, channel_name: str) -> None:
    key = _claim_key(api_token_id)
    if cache.get(key) == channel_name:
        cache.set(key, channel_name, timeout=settings.BLUECURRENT_CONNECTION_CLAIM_SECONDS)


def connection_release(*, api_token_id: int, channel_name: str) -> None:
    key = _claim_key(api_token_id)
    if cache.get(key) == channel_name:
        cache.delete(key)
