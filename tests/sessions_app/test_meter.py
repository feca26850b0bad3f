"""The one reading of chargers' meter values and timestamps (sessions_app/meter.py): every
path skips values that are not finite numbers, and reads timestamps the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ocpp_consumer.v201.central_system import meter_value_as_v16
from sessions_app.meter import Reading, number, parse_timestamp, readings_v16, readings_v201
from sessions_app.transaction_events import samples_from_meter_values

AT = "2026-03-01T09:00:00Z"
BAD = ["NaN", "Infinity", "-inf", "", "12,5", "abc", None]


@pytest.mark.parametrize("value", BAD)
def test_a_value_that_is_no_finite_number_is_skipped_everywhere(value):
    v16 = [{"timestamp": AT, "sampled_value": [{"value": value}, {"value": "5"}]}]
    v201 = [{"timestamp": AT, "sampledValue": [{"value": value}, {"value": 5}]}]
    v201_snake = [{"timestamp": AT, "sampled_value": [{"value": value}, {"value": 5}]}]
    assert number(value) is None
    assert [r.value for r in readings_v16(v16)] == [Decimal(5)]
    assert [
        s.value
        for s in samples_from_meter_values(charge_point_id=1, connector_id=None, session_id=None, meter_value=v201)
    ] == [Decimal(5)]
    assert [entry["sampled_value"][0]["value"] for entry in meter_value_as_v16(v201_snake)] == ["5"]


def test_the_unit_multiplier_is_applied_once_in_both_key_styles():
    camel = [{"timestamp": AT, "sampledValue": [{"value": 12.5, "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}]}]
    snake = [{"timestamp": AT, "sampled_value": [{"value": 12.5, "unit_of_measure": {"unit": "Wh", "multiplier": 3}}]}]
    expected = [
        Reading(
            datetime(2026, 3, 1, 9, tzinfo=UTC),
            "Energy.Active.Import.Register",
            "",
            "",
            "Sample.Periodic",
            Decimal("12500"),
            "Wh",
        )
    ]
    assert readings_v201(camel) == readings_v201(snake) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T09:00:00Z",
        "2026-03-01T09:00:00z",
        "2026-03-01T10:00:00+01:00",
        "2026-03-01 09:00:00",
        "2026-03-01T09:00:00",
    ],
)
def test_timestamps_are_read_as_aware_utc(text):
    assert parse_timestamp(text) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert parse_timestamp(text).tzinfo == UTC


def test_text_that_is_no_timestamp_is_refused():
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")
