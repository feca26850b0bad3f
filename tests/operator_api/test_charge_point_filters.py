"""/api/operator/charge-points/ filters (status, vendor, model, firmware, protocol) and the
CSV exports of charge points and id tokens."""

from __future__ import annotations

import csv
import io

import pytest

from chargepoints.models import Connector, IdToken
from tests.factories import ChargePointFactory, ConnectorFactory

pytestmark = pytest.mark.django_db
API = "/api/operator"


@pytest.fixture
def fleet(site, charger, foreign_charger):
    """station42 (1.6, two connectors), plus an ABB and an Alfen charger of the same site."""
    charger.vendor, charger.model, charger.firmware_version = "Generic", "Sim-1", "1.0.0"
    charger.save()
    abb = ChargePointFactory(
        site=site, identity="abb-1", vendor="ABB", model="Terra AC", firmware_version="1.6.2", protocol="ocpp2.0.1"
    )
    ConnectorFactory(charge_point=abb, connector_id=1, status="Charging")
    alfen = ChargePointFactory(
        site=site, identity="alfen-1", vendor="Alfen", model="Eve", firmware_version="4.14", status="Faulted"
    )
    ConnectorFactory(charge_point=alfen, connector_id=1, status="Available")
    Connector.objects.filter(charge_point=charger, connector_id=2).update(status="Faulted")
    foreign_charger.vendor = "ABB"
    foreign_charger.save()
    return charger, abb, alfen


def _identities(client, **params) -> list[str]:
    answer = client.get(f"{API}/charge-points/", params)
    assert answer.status_code == 200, answer.content
    return sorted(row["identity"] for row in answer.json()["results"])


def test_charge_points_filter_by_status_vendor_model_firmware_and_protocol(client, fleet):
    assert _identities(client) == ["abb-1", "alfen-1", "station42"]
    assert _identities(client, status="Charging") == ["abb-1"]
    # The charger's own status (connector 0) or any connector's.
    assert _identities(client, status="Faulted") == ["alfen-1", "station42"]
    assert _identities(client, vendor="abb") == ["abb-1"]  # not the other operator's ABB
    assert _identities(client, vendor="ABB", model="terra ac") == ["abb-1"]
    assert _identities(client, firmware="4.14") == ["alfen-1"]
    assert _identities(client, firmware="4.1") == []
    assert _identities(client, protocol="ocpp2.0.1") == ["abb-1"]
    assert client.get(f"{API}/charge-points/", {"status": "Sleeping"}).status_code == 400


def test_the_charge_point_export_follows_the_filters(client, fleet):
    answer = client.get(f"{API}/charge-points/export/", {"vendor": "Generic"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["identity"], row["vendor"], row["model"], row["firmware_version"]) == (
        "station42",
        "Generic",
        "Sim-1",
        "1.0.0",
    )
    assert row["connectors"] == "2" and row["connector_statuses"] == "1:Available 2:Faulted"
    everything = list(csv.DictReader(io.StringIO(client.get(f"{API}/charge-points/export/").content.decode())))
    assert [r["identity"] for r in everything] == ["abb-1", "alfen-1", "station42"]


def test_the_id_token_export_has_only_the_operators_tokens_and_defuses_formulas(client, operator, other_operator):
    IdToken.objects.create(uid="CARD-1", name="Fleet car", operator=operator)
    IdToken.objects.create(uid="CARD-2", name="=HYPERLINK(1)", operator=operator, status="Blocked")
    IdToken.objects.create(uid="NOT-MINE", operator=other_operator)
    rows = list(csv.DictReader(io.StringIO(client.get(f"{API}/id-tokens/export/").content.decode())))
    assert [(r["uid"], r["status"]) for r in rows] == [("CARD-1", "Accepted"), ("CARD-2", "Blocked")]
    assert rows[1]["name"] == "'=HYPERLINK(1)"
    blocked = list(
        csv.DictReader(io.StringIO(client.get(f"{API}/id-tokens/export/", {"status": "Blocked"}).content.decode()))
    )
    assert [r["uid"] for r in blocked] == ["CARD-2"]
