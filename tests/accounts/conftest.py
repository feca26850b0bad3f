"""Accounts tests: OTP codes and their rate limits live in the shared Redis cache."""

from __future__ import annotations

import pytest

from tests.support.cache import clear_cache_keys


@pytest.fixture(autouse=True)
def _clean_rate_limits():
    # Rate-limit counters would leak between tests.
    clear_cache_keys()
    yield
