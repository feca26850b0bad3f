"""Bounds for numbers that reach the database.

SQLite and PostgreSQL integers stop at 2**63-1. Django's <int:...> converter and DRF's
IntegerField accept any size, so an oversized id in a URL or query would reach the
database and fail with a 500 instead of a clean 404/400.
"""

from __future__ import annotations

from rest_framework import serializers

MAX_DATABASE_INT = 2**63 - 1


def parse_database_id(raw: object) -> int | None:
    """A public id as a primary key: plain ASCII digits that fit a BIGINT, else None
    (str.isdigit() accepts '²', and int() of it raises; PostgreSQL refuses integers past
    2**63-1)."""
    text = str(raw).strip()
    if not (0 < len(text) <= 18 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value > 0 else None


class DatabaseIdConverter:
    """<id:name> in URL patterns: a positive integer that fits a BIGINT column."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class DatabaseIdField(serializers.IntegerField):
    """An id in a request body or query: positive and within a BIGINT column."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_DATABASE_INT)
        super().__init__(**kwargs)
