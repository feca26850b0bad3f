"""Issue 18 in the portal: a session's charging curve and latest meter readings, a
charger's connector status history; each scoped to the operator and its permissions."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from chargepoints.models import ChargePoint
from chargepoints.services import connector_update_status
from sessions_app.models import MeterSample
from tests.factories import ChargeSessionFactory, StaffFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam (the factories' site zone)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def chart_data(html: str) -> dict:
    """The chart's data exactly as the browser reads it (the json_script element)."""
    found = re.search(r'<script id="session-chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def sample(session, at: datetime, measurand: str, value: str, unit: str, **fields) -> MeterSample:
    return MeterSample.objects.create(
        charge_point=session.charge_point,
        connector=session.connector,
        session=session,
        sampled_at=at,
        measurand=measurand,
        value=Decimal(value),
        unit=unit,
        **fields,
    )


@pytest.fixture
def curve_session(world):
    """An Alpha session (meter start 10,000 Wh) whose charger sends, per minute:
    09:00 the register only (10 kWh); 09:01 the register only (10,250 Wh); 09:02 three
    phase powers in kW, the register (10,435 Wh) and the car's SoC; 09:03 a total power."""
    charger = world["alpha"][2][0].charge_point
    session = ChargeSessionFactory(
        charge_point=charger, connector=charger.connectors.first(), started_at=T0, meter_start_wh=10_000
    )
    register = "Energy.Active.Import.Register"
    sample(session, T0, register, "10.000", "kWh")
    sample(session, T0 + timedelta(minutes=1), register, "10250", "Wh")
    for phase in ("L1", "L2", "L3"):
        sample(session, T0 + timedelta(minutes=2), "Power.Active.Import", "3.7", "kW", phase=phase)
    sample(session, T0 + timedelta(minutes=2), register, "10435", "Wh")
    sample(session, T0 + timedelta(minutes=2), "SoC", "42", "Percent", location="EV")
    sample(session, T0 + timedelta(minutes=3), "Power.Active.Import", "7400", "W")
    return session


def test_the_session_page_charts_the_charging_curve_of_its_samples(alpha_client, curve_session):
    page = alpha_client.get(f"/sessions/{curve_session.pk}/").content.decode()

    data = chart_data(page)
    minute = [ms(T0 + timedelta(minutes=n)) for n in range(4)]
    # 09:01 has no power reading: 250 Wh in 60 s is 15,000 W on average. 09:02: 3 x 3.7 kW.
    assert data["power"] == [[minute[1], 15000], [minute[2], 11100], [minute[3], 7400]]
    assert data["energy"] == [[minute[0], 0], [minute[1], 250], [minute[2], 435]]
    assert data["soc"] == [[minute[2], 42]]
    assert data["derived"] == 1
    assert 'id="power-chart"' in page and 'id="soc-chart"' in page
    assert "1 power value averaged from the energy register" in page


def test_the_session_page_lists_the_latest_readings_and_links_the_operator_api(alpha_client, curve_session):
    for n in range(50):  # 08:59:10 ... 08:59:59 UTC, before the 8 readings of the fixture
        sample(curve_session, T0 - timedelta(seconds=50 - n), "Current.Import", "16", "A", phase="L1")

    page = alpha_client.get(f"/sessions/{curve_session.pk}/").content.decode()

    start = page.index('id="meter-values"')
    table = page[start : page.index("</table>", start)]
    assert "The latest 50 of 58 readings, newest first" in table
    rows = re.findall(r"<tr><td>(.*?)</td>.*?data-field=\"value\">(.*?)</td>", table, re.S)
    assert len(rows) == 50
    assert rows[0] == ("2026-03-02 10:03:00", "7400 W")  # newest first, Amsterdam time, no trailing zeros
    assert ("2026-03-02 10:02:00", "3.7 kW") in rows
    assert ("2026-03-02 10:00:00", "10 kWh") in rows
    assert "09:59:10" not in table  # the oldest readings are left to the API
    api = re.search(r'<a href="([^"]+)" id="meter-values-api">', page).group(1)
    assert api == f"/api/operator/sessions/{curve_session.pk}/meter-values/"
    answer = alpha_client.get(api)  # the portal's own login reads it
    assert answer.status_code == 200 and answer.json()["count"] == 58
    curve = re.search(r'<a href="([^"]+)" id="charging-curve-api">', page).group(1)
    assert [p["power_w"] for p in alpha_client.get(curve).json()["points"]] == [None, 15000, 11100, 7400]


def limited_client(operator, codename: str) -> Client:
    """A client logged in as staff of `operator` whose only permission is `codename`."""
    role = Group.objects.create(name=f"Only {codename}")
    role.permissions.add(Permission.objects.get(codename=codename))
    staff = StaffFactory(operator=operator, role="")
    staff.groups.add(role)
    client = Client()
    client.force_login(staff)
    return client


def test_the_readings_need_the_meter_values_permission_the_chart_does_not(alpha_client, curve_session):
    url = f"/sessions/{curve_session.pk}/"
    assert 'id="meter-values"' in alpha_client.get(url).content.decode()  # an operator admin
    sessions_only = limited_client(curve_session.charge_point.site.operator, "view_chargesession")

    page = sessions_only.get(url).content.decode()

    assert chart_data(page)["energy"]
    assert 'id="meter-values"' not in page and "meter-values-api" not in page


# --- connector status history ---------------------------------------------------------


def status_changes(charger: ChargePoint, count: int) -> None:
    """`count` changes through the StatusNotification service: connector 1 alternates
    Charging/SuspendedEV, one minute apart from T0."""
    for n in range(count):
        connector_update_status(
            charge_point_id=charger.pk,
            connector_id=1,
            status="Charging" if n % 2 == 0 else "SuspendedEV",
            at=T0 + timedelta(minutes=n),
        )


def history_rows(html: str) -> list[tuple[str, str, str, str]]:
    """(when, connector, status, error) of each row of the status history table."""
    start = html.index('id="status-history"')
    table = html[start : html.index("</table>", start)]
    cells = re.findall(
        r"<td>(.*?)</td>\s*<td data-field=\"history-connector\">(.*?)</td>\s*"
        r"<td><span [^>]*data-field=\"history-status\">(.*?)</span></td>\s*<td data-field=\"history-error\">(.*?)</td>",
        table,
        re.S,
    )
    return [tuple(re.sub(r"<[^>]+>", "", c).strip() for c in row) for row in cells]


def test_the_charger_page_shows_the_latest_50_status_changes_newest_first(alpha_client, world):
    charger = ChargePoint.objects.get(identity="Alpha-CP-0")
    status_changes(charger, 54)
    last = T0 + timedelta(minutes=54)
    connector_update_status(
        charge_point_id=charger.pk,
        connector_id=1,
        status="Faulted",
        error_code="GroundFailure",
        vendor_error_code="E42",
        at=last,
    )
    connector_update_status(charge_point_id=charger.pk, connector_id=0, status="Unavailable", at=last)

    page = alpha_client.get("/chargers/Alpha-CP-0/").content.decode()
    rows = history_rows(page)

    assert len(rows) == 50
    assert rows[0] == ("2026-03-02 10:54:00", "0 (charger)", "Unavailable", "–")
    assert rows[1] == ("2026-03-02 10:54:00", "1", "Faulted", "GroundFailure")
    assert rows[2] == ("2026-03-02 10:53:00", "1", "SuspendedEV", "–")
    assert rows[-1][0] == "2026-03-02 10:06:00"  # 56 changes: the oldest six are left out
    assert '<td class="free-text" data-field="history-info">Vendor code E42</td>' in page
    live = history_rows(alpha_client.get("/chargers/Alpha-CP-0/live/").content.decode())
    assert live == rows  # the live fragment, re-fetched on each cp.state, carries it too


def test_the_status_history_shows_no_other_operators_changes(alpha_client, world):
    alpha, beta = ChargePoint.objects.get(identity="Alpha-CP-0"), ChargePoint.objects.get(identity="Beta-CP-0")
    status_changes(alpha, 2)
    connector_update_status(charge_point_id=beta.pk, connector_id=1, status="Faulted", error_code="OverVoltage", at=T0)

    page = alpha_client.get("/chargers/Alpha-CP-0/").content.decode()

    assert [row[2] for row in history_rows(page)] == ["SuspendedEV", "Charging"]
    assert "OverVoltage" not in page
    assert alpha_client.get("/chargers/Beta-CP-0/").status_code == 404
    assert alpha_client.get("/chargers/Beta-CP-0/live/").status_code == 404


def test_the_status_history_needs_its_permission(alpha_client, world):
    charger = ChargePoint.objects.get(identity="Alpha-CP-0")
    status_changes(charger, 2)
    assert len(history_rows(alpha_client.get("/chargers/Alpha-CP-0/").content.decode())) == 2  # an operator admin
    chargers_only = limited_client(world["alpha"][0], "view_chargepoint")

    page = chargers_only.get("/chargers/Alpha-CP-0/").content.decode()

    assert 'id="connectors"' in page and 'id="status-history"' not in page
