"""/api/operator/: CRUD, scoping, filters, CSV, journal, statistics and command endpoints."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chargepoints.models import ChargePoint, Connector, IdToken, OcppMessage, Site
from tariffs.models import TariffAssignment
from tests.factories import (
    ChargeSessionFactory,
    DriverFactory,
    ElectricityPriceFactory,
    PurchaseFactory,
    StaffFactory,
    TariffFactory,
)

pytestmark = pytest.mark.django_db
API = "/api/operator"


def test_it_answers_401_without_credentials(anonymous):
    assert anonymous.get(f"{API}/sites/").status_code == 401


def test_a_driver_login_is_refused(operator):
    from rest_framework.test import APIClient

    driver = APIClient()
    driver.force_authenticate(DriverFactory())
    assert driver.get(f"{API}/sites/").status_code == 403


def test_staff_with_a_session_sees_their_operator(staff_client, charger, foreign_charger):
    identities = [row["identity"] for row in staff_client.get(f"{API}/charge-points/").json()["results"]]
    assert identities == ["station42"]


def test_a_superuser_sees_every_operator(charger, foreign_charger):
    from rest_framework.test import APIClient

    admin = APIClient()
    admin.force_authenticate(StaffFactory(is_superuser=True, operator=None))
    identities = {row["identity"] for row in admin.get(f"{API}/charge-points/").json()["results"]}
    assert identities == {"station42", "elsewhere"}


def test_another_operators_objects_are_not_found(client, foreign_charger):
    assert client.get(f"{API}/charge-points/elsewhere/").status_code == 404
    assert client.get(f"{API}/charge-points/elsewhere/journal/").status_code == 404
    assert client.patch(f"{API}/charge-points/elsewhere/update/", {"name": "x"}, format="json").status_code == 404
    assert client.get(f"{API}/sites/{foreign_charger.site_id}/").status_code == 404


def test_site_crud(client, operator):
    created = client.post(
        f"{API}/sites/create/",
        {"name": "Depot", "latitude": "52.1", "longitude": "5.1", "time_zone": "Europe/Amsterdam"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    site_id = created.json()["id"]
    assert Site.objects.get(pk=site_id).operator == operator
    assert (
        client.patch(f"{API}/sites/{site_id}/update/", {"city": "Utrecht"}, format="json").json()["city"] == "Utrecht"
    )
    assert client.get(f"{API}/sites/{site_id}/").json()["name"] == "Depot"
    assert client.delete(f"{API}/sites/{site_id}/delete/").status_code == 204


def test_a_bad_time_zone_is_a_400(client):
    answer = client.post(
        f"{API}/sites/create/",
        {"name": "X", "latitude": "1", "longitude": "1", "time_zone": "Mars/Base"},
        format="json",
    )
    assert answer.status_code == 400
    assert "time_zone" in answer.json()


def test_a_duplicate_site_name_is_a_400(client, site):
    answer = client.post(f"{API}/sites/create/", {"name": site.name, "latitude": "1", "longitude": "1"}, format="json")
    assert answer.status_code == 400


def test_deleting_a_site_in_use_is_a_conflict(client, charger):
    assert client.delete(f"{API}/sites/{charger.site_id}/delete/").status_code == 409


def test_charge_point_and_connector_crud(client, site):
    created = client.post(
        f"{API}/charge-points/create/",
        {"identity": "NEW-1", "site": site.pk, "password": "a-long-password"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert "password" not in created.json()
    charge_point = ChargePoint.objects.get(identity="NEW-1")
    assert charge_point.password_hash and "a-long-password" not in charge_point.password_hash
    connector = client.post(
        f"{API}/charge-points/NEW-1/connectors/create/", {"connector_id": 1, "max_power_kw": "11"}, format="json"
    )
    assert connector.status_code == 201, connector.json()
    assert connector.json()["evse_id"] == 1
    assert (
        client.patch(
            f"{API}/charge-points/NEW-1/connectors/1/update/", {"connector_type": "CCS2"}, format="json"
        ).json()["connector_type"]
        == "CCS2"
    )
    assert client.get(f"{API}/charge-points/NEW-1/connectors/").json()[0]["connector_id"] == 1
    assert client.delete(f"{API}/charge-points/NEW-1/connectors/1/delete/").status_code == 204
    assert not Connector.objects.filter(charge_point=charge_point).exists()
    assert client.delete(f"{API}/charge-points/NEW-1/delete/").status_code == 204


def test_a_charge_point_cannot_be_put_on_a_foreign_site(client, foreign_charger):
    answer = client.post(
        f"{API}/charge-points/create/", {"identity": "X", "site": foreign_charger.site_id}, format="json"
    )
    assert answer.status_code == 404


def test_id_token_crud_is_scoped(client, operator, other_operator):
    IdToken.objects.create(uid="FOREIGN", operator=other_operator)
    created = client.post(f"{API}/id-tokens/create/", {"uid": "CARD-1", "name": "Fleet"}, format="json")
    assert created.status_code == 201
    assert [row["uid"] for row in client.get(f"{API}/id-tokens/").json()["results"]] == ["CARD-1"]
    token_id = created.json()["id"]
    assert (
        client.patch(f"{API}/id-tokens/{token_id}/update/", {"status": "Blocked"}, format="json").json()["status"]
        == "Blocked"
    )
    assert client.delete(f"{API}/id-tokens/{token_id}/delete/").status_code == 204


def test_tariffs_and_assignments(client, charger, operator):
    created = client.post(
        f"{API}/tariffs/create/",
        {"name": "Standard", "energy_price_per_kwh": "0.35", "vat_percent": "21"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["energy_price_per_kwh"] == "0.3500"
    tariff_id = created.json()["id"]
    assigned = client.post(
        f"{API}/tariff-assignments/create/", {"tariff": tariff_id, "charge_point": "station42"}, format="json"
    )
    assert assigned.status_code == 201, assigned.json()
    assert TariffAssignment.objects.get().charge_point == charger
    assert client.post(f"{API}/tariff-assignments/create/", {"tariff": tariff_id}, format="json").status_code == 400
    foreign = TariffFactory()
    assert client.get(f"{API}/tariffs/{foreign.pk}/").status_code == 404


def test_prices_are_read_by_operators_and_changed_by_superusers(client):
    ElectricityPriceFactory()
    assert client.get(f"{API}/electricity-prices/").json()["count"] >= 0
    payload = {"starts_at": "2030-01-01T10:00:00Z", "price_per_kwh": "0.2"}
    assert client.post(f"{API}/electricity-prices/create/", payload, format="json").status_code == 403
    from rest_framework.test import APIClient

    admin = APIClient()
    admin.force_authenticate(StaffFactory(is_superuser=True, operator=None))
    created = admin.post(f"{API}/electricity-prices/create/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["source"] == "manual"
    listed = client.get(f"{API}/electricity-prices/?since=2030-01-01&until=2030-01-02").json()
    assert [row["price_per_kwh"] for row in listed["results"]] == ["0.200000"]


def _sessions(charger, foreign_charger):
    connector = charger.connectors.get(connector_id=1)
    driver = DriverFactory()
    now = timezone.now()
    done = ChargeSessionFactory(
        connector=connector,
        user=driver,
        started_at=now - timedelta(days=2),
        status="completed",
        stopped_at=now - timedelta(days=2) + timedelta(hours=1),
        meter_start_wh=0,
        meter_stop_wh=10000,
    )
    active = ChargeSessionFactory(
        connector=charger.connectors.get(connector_id=2),
        started_at=now - timedelta(hours=1),
        meter_start_wh=0,
        meter_last_wh=2000,
    )
    ChargeSessionFactory(connector=foreign_charger.connectors.get(connector_id=1))
    return done, active, driver


def test_session_filters(client, charger, foreign_charger):
    done, active, driver = _sessions(charger, foreign_charger)

    def ids(query=""):
        return [row["id"] for row in client.get(f"{API}/sessions/{query}").json()["results"]]

    assert ids() == [active.pk, done.pk]
    assert ids("?state=active") == [active.pk]
    assert ids(f"?driver={driver.pk}") == [done.pk]
    assert ids("?charge_point=station42") == [active.pk, done.pk]
    assert ids("?charge_point=elsewhere") == []
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert ids(f"?since={since}") == [active.pk]
    assert client.get(f"{API}/sessions/?since=yesterday").status_code == 400
    assert client.get(f"{API}/sessions/{done.pk}/").json()["energy_wh"] == 10000


def test_session_csv_export(client, charger, foreign_charger):
    done, active, _ = _sessions(charger, foreign_charger)
    answer = client.get(f"{API}/sessions/export/?state=completed")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0][0] == "id"
    assert [row[0] for row in rows[1:]] == [str(done.pk)]


def test_purchases_filters_and_csv(client, charger, foreign_charger):
    session = ChargeSessionFactory(
        connector=charger.connectors.get(connector_id=1),
        status="completed",
        stopped_at=timezone.now(),
        meter_stop_wh=5000,
    )
    mine = PurchaseFactory(session=session, status="paid", paid_at=timezone.now(), total_price=Decimal("4.20"))
    PurchaseFactory()  # no site: another operator's
    listed = client.get(f"{API}/purchases/?state=paid").json()
    assert [row["id"] for row in listed["results"]] == [mine.pk]
    assert listed["results"][0]["total_price"] == "4.20"
    assert client.get(f"{API}/purchases/?state=open").json()["count"] == 0
    rows = list(csv.reader(io.StringIO(client.get(f"{API}/purchases/export/").content.decode())))
    assert len(rows) == 2 and rows[1][9] == "4.20"


def test_journal_filters(client, charger):
    for n, (direction, action) in enumerate([("in", "Heartbeat"), ("out", "Reset"), ("in", "Heartbeat")]):
        OcppMessage.objects.create(
            charge_point=charger,
            charge_point_identity="station42",
            direction=direction,
            message_type=2,
            unique_id=str(n),
            action=action,
            payload={},
        )
    assert client.get(f"{API}/charge-points/station42/journal/").json()["count"] == 3
    assert client.get(f"{API}/charge-points/station42/journal/?action=Reset").json()["results"][0]["unique_id"] == "1"
    assert client.get(f"{API}/charge-points/station42/journal/?direction=in").json()["count"] == 2
    assert client.get(f"{API}/charge-points/station42/journal/?message_type=3").json()["count"] == 0


def test_statistics(client, charger, foreign_charger):
    done, active, _ = _sessions(charger, foreign_charger)
    PurchaseFactory(session=done, status="paid", paid_at=timezone.now(), total_price=Decimal("3.00"))
    energy = client.get(f"{API}/statistics/energy-per-day/?since={(timezone.now() - timedelta(days=3)).date()}").json()
    assert len(energy) == 4
    assert sum(day["energy_wh"] for day in energy) == 12000
    assert sum(day["sessions"] for day in energy) == 2
    revenue = client.get(f"{API}/statistics/revenue-per-day/").json()
    assert [(row["revenue"], row["paid"], row["purchases"]) for row in revenue] == [("3.00", "3.00", 1)]
    utilisation = client.get(f"{API}/statistics/utilisation/").json()
    assert [row["charge_point"] for row in utilisation] == ["station42"]
    assert utilisation[0]["sessions"] == 2
    assert 7100 < utilisation[0]["busy_seconds"] < 7300
    assert 0 < utilisation[0]["utilisation_percent"] < 1
    assert client.get(f"{API}/statistics/utilisation/?since=2030-01-02&until=2030-01-01").status_code == 400


@pytest.mark.parametrize(
    "query", ["until=0001-01-01", "since=0001-01-01&until=0001-01-05", "until=9999-12-31", "since=9999-12-30"]
)
@pytest.mark.parametrize("statistic", ["energy-per-day", "revenue-per-day", "utilisation"])
def test_statistics_days_at_the_edges_of_the_calendar_are_a_clear_400(client, charger, statistic, query):
    # Found by schemathesis: a day near year 1 or 9999 overflowed date arithmetic (500).
    answer = client.get(f"{API}/statistics/{statistic}/?{query}")
    assert answer.status_code == 400
    assert "between 1900-01-01 and 2999-12-31" in str(answer.json())


def test_command_endpoint_answers_with_the_chargers_reply(client, charger, bus):
    bus.answers["GetConfiguration"] = {"configurationKey": [{"key": "A", "readonly": False, "value": "1"}]}
    answer = client.post(f"{API}/charge-points/station42/commands/v16/GetConfiguration/", {"key": ["A"]}, format="json")
    assert answer.status_code == 200
    assert answer.json() == bus.answers["GetConfiguration"]
    assert bus.calls == [("station42", "GetConfiguration", {"key": ["A"]})]


@pytest.mark.parametrize(
    "error, code",
    [
        ("CommandTimeout", 504),
        ("ChargerOffline", 409),
        ("InvalidPayload", 400),
        ("UnknownAction", 400),
        ("CallErrorReceived", 502),
    ],
)
def test_command_failures(client, charger, bus, error, code):
    bus.raises["Reset"] = (
        bus.error(error) if error != "CallErrorReceived" else bus.module.CallErrorReceived("NotSupported")
    )
    answer = client.post(f"{API}/charge-points/station42/commands/v201/Reset/", {"type": "Immediate"}, format="json")
    assert answer.status_code == code
    if error == "CommandTimeout":
        assert answer.json()["status"] == "Timeout"


def test_command_on_a_foreign_charger_is_not_found(client, foreign_charger, bus):
    assert (
        client.post(f"{API}/charge-points/elsewhere/commands/v16/Reset/", {"type": "Soft"}, format="json").status_code
        == 404
    )
    assert bus.calls == []


def test_command_body_must_be_an_object(client, charger, bus):
    assert client.post(f"{API}/charge-points/station42/commands/v16/Reset/", [1], format="json").status_code == 400
