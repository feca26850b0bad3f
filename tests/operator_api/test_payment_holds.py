"""/api/operator/payment-holds/: the payment pre-authorisations (payments.Reservation)
listed, filtered and exported for reconciliation, only the caller operator's."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.models import Reservation

pytestmark = pytest.mark.django_db
API = "/api/operator"


def _hold(charge_point, *, created: str, status: str = "authorized", provider: str = "stripe", **fields):
    return Reservation.objects.create(
        charge_point=charge_point,
        connector=charge_point.connectors.get(connector_id=1),
        charge_tag="TAG",
        provider=provider,
        status=status,
        max_amount=Decimal("30.00"),
        max_energy_wh=40000,
        created_at=datetime.fromisoformat(created).replace(tzinfo=UTC),
        **fields,
    )


@pytest.fixture
def holds(charger, foreign_charger):
    return {
        "captured": _hold(charger, created="2025-03-01T10:00", status="captured", captured_amount=Decimal("12.34")),
        "released": _hold(charger, created="2025-03-02T10:00", status="released", provider="sandbox"),
        "open": _hold(charger, created="2025-03-03T10:00"),
        "foreign": _hold(foreign_charger, created="2025-03-02T12:00"),
    }


def _ids(client, **params) -> set[str]:
    answer = client.get(f"{API}/payment-holds/", params)
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["results"]}


def test_holds_filter_by_status_charger_provider_and_dates(client, holds):
    mine = {key: str(hold.pk) for key, hold in holds.items()}
    assert _ids(client) == {mine["captured"], mine["released"], mine["open"]}
    assert _ids(client, status="captured") == {mine["captured"]}
    assert _ids(client, provider="sandbox") == {mine["released"]}
    assert _ids(client, since="2025-03-02", until="2025-03-03") == {mine["released"]}
    assert _ids(client, since="2025-03-02T11:00:00+00:00") == {mine["open"]}
    assert _ids(client, charge_point="station42", status="authorized") == {mine["open"]}
    assert _ids(client, charge_point="elsewhere") == set()
    assert client.get(f"{API}/payment-holds/", {"status": "lost"}).status_code == 400
    assert client.get(f"{API}/payment-holds/", {"since": "yesterday"}).status_code == 400


def test_a_hold_shows_its_amounts_as_decimal_strings(client, holds):
    row = client.get(f"{API}/payment-holds/{holds['captured'].pk}/").json()
    assert (row["max_amount"], row["captured_amount"], row["currency"]) == ("30.00", "12.34", "EUR")
    assert (row["charge_point"], row["connector"], row["status"]) == ("station42", 1, "captured")
    assert client.get(f"{API}/payment-holds/{holds['foreign'].pk}/").status_code == 404


def test_the_csv_export_has_the_filtered_holds_oldest_first(client, holds):
    answer = client.get(f"{API}/payment-holds/export/", {"since": "2025-03-02"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [row["id"] for row in rows] == [str(holds["released"].pk), str(holds["open"].pk)]
    assert rows[0]["provider"] == "sandbox" and rows[0]["max_amount"] == "30.00"
