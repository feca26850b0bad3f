"""Fixed-window rate limits in the shared Redis cache, so every web process counts together."""

from __future__ import annotations

from django.core.cache import cache

from accounts.errors import RateLimited


def parse_rate(rate: str) -> tuple[int, int]:
    count, seconds = rate.split("/")
    return int(count), int(seconds)


def rate_limit_hit(*, scope: str, key: str, rate: str) -> None:
    """Count one hit; raise RateLimited once the window's allowance is used up."""
    limit, window = parse_rate(rate)
    cache_key = f"ratelimit:{scope}:{key}"
    # add() only sets a missing key, so the window starts at the first hit and is not
    # extended by later ones.
    cache.add(cache_key, 0, timeout=window)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.set(cache_key, 1, timeout=window)
        count = 1
    if count > limit:
        raise RateLimited("Too many requests; try again later.", code="rate_limited", retry_after=window)
