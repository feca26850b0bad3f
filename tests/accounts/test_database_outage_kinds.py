"""Which database errors count as "the database is unavailable" (every lane of the process
fails fast for a moment, a batch is not retried item by item) and which are about one
transaction (a deadlock, a cancelled statement: the batch's items are retried one by one,
nobody else is failed). Real errors from a real PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, transaction

from accounts.outages import is_database_unavailable

pytestmark = pytest.mark.django_db


def _error_of(sql: str) -> BaseException:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    except Exception as error:
        return error
    raise AssertionError(f"{sql!r} did not fail")


def test_a_statement_cancelled_by_its_timeout_is_not_an_outage(on_postgres):
    error = _error_of("SET LOCAL statement_timeout = 10; SELECT pg_sleep(1)")
    assert isinstance(error, OperationalError)  # (how Django raises it)
    assert not is_database_unavailable(error)


def test_a_deadlock_is_not_an_outage(on_postgres):
    error = _error_of(
        "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'deadlock_detected', MESSAGE = 'deadlock detected'; END $$"
    )
    assert isinstance(error, OperationalError)
    assert not is_database_unavailable(error)


def test_a_refused_connection_is_an_outage(on_postgres):
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = {**connections["default"].settings_dict, "HOST": "127.0.0.1", "PORT": "1", "OPTIONS": {}}
    wrapper = DatabaseWrapper(settings, alias="refused")
    with pytest.raises(OperationalError) as raised:
        wrapper.ensure_connection()
    assert is_database_unavailable(raised.value)


def test_an_error_of_the_data_is_not_an_outage(on_postgres):
    error = _error_of("SELECT 1/0")
    assert not is_database_unavailable(error)
