"""What an operator used to SteVe or OCPP.Core missed on the portal's pages (issue 18):
offline chargers among those needing attention, the currency on the revenue tile, a live
session page with its cost so far, and a page for drivers who open the portal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chargepoints.models import ChargePoint
from tests.factories import DriverFactory, PurchaseFactory, StaffFactory, TariffFactory

pytestmark = pytest.mark.django_db


def test_offline_chargers_are_among_those_needing_attention(alpha_client):
    ChargePoint.objects.filter(identity="Alpha-CP-1").update(last_seen_at=timezone.now() - timedelta(hours=5))
    page = alpha_client.get("/").content.decode()
    attention = page[page.index('<ul id="attention">') :]
    attention = attention[: attention.index("</ul>")]
    assert 'data-identity="Alpha-CP-1"' in attention and ">Offline</span>" in attention
    assert 'data-identity="Alpha-CP-0"' not in attention  # online, nothing faulted
    assert "Beta-CP" not in attention


def test_a_faulted_online_charger_is_listed_as_faulted(alpha_client):
    ChargePoint.objects.get(identity="Alpha-CP-0").connectors.update(status="Faulted")
    page = alpha_client.get("/").content.decode()
    row = page[page.index('data-identity="Alpha-CP-0"') :]
    row = row[: row.index("</li>")]
    assert ">Faulted</span>" in row and ">Offline</span>" not in row


def test_the_revenue_tile_names_its_currency(alpha_client, world):
    _, _, sessions, _ = world["alpha"]
    PurchaseFactory(
        session__charge_point=sessions[0].charge_point,
        session__connector=sessions[0].connector,
        total_price=Decimal("12.40"),
        currency="SEK",
    )
    page = alpha_client.get("/").content.decode()
    assert '<li class="tile ok" data-revenue="SEK"><span class="value">12.40 <span class="currency">SEK</span>' in page


def test_the_revenue_tile_names_the_operators_currency_before_the_first_sale(client):
    staff = StaffFactory()  # a new operator: no sale in the last 30 days
    TariffFactory(operator=staff.operator, currency="NOK")
    client.force_login(staff)
    page = client.get("/").content.decode()
    assert 'data-revenue="NOK"><span class="value">0.00 <span class="currency">NOK</span>' in page


def test_the_session_page_shows_energy_power_and_cost_so_far_and_refreshes_them_live(alpha_client, world):
    from tariffs.models import TariffAssignment

    operator, site, _, active = world["alpha"]
    tariff = TariffFactory(operator=operator, currency="EUR", energy_price_per_kwh=Decimal("0.50"))
    TariffAssignment.objects.create(tariff=tariff, site=site, valid_from=active.started_at - timedelta(days=1))
    page = alpha_client.get(f"/sessions/{active.pk}/").content.decode()
    # The live box re-fetches its fragment on the charger's cp.state messages.
    assert f'data-live-url="/sessions/{active.pk}/live/"' in page
    assert f'data-ws-query="?cp={active.charge_point.identity}"' in page
    live = alpha_client.get(f"/sessions/{active.pk}/live/").content.decode()
    assert '<span data-field="energy">2.00</span> kWh' in live  # the session's register: 1000 -> 3000 Wh
    assert '<span data-field="power">7.4</span> kW' in live
    # Priced by the one pricing function from the meter samples (1000 -> 2800 Wh): 1.8 kWh
    # at 0.50 EUR, no VAT, no fee.
    assert 'data-field="cost">0.90 EUR' in live


def test_a_finished_session_page_is_not_live(alpha_client, world):
    from billing.models import Purchase

    finished = world["alpha"][2][0]
    Purchase.objects.filter(session=finished).update(priced_at=timezone.now())
    page = alpha_client.get(f"/sessions/{finished.pk}/").content.decode()
    assert "data-live-url" not in page and 'data-field="cost">3.50 EUR' in page


def test_a_driver_who_opens_the_portal_gets_a_styled_page_not_a_bare_error(client, world):
    driver = DriverFactory()
    client.force_login(driver)
    for url in ("/", "/chargers/", "/sessions/"):
        response = client.get(url)
        assert response.status_code == 403
        html = response.content.decode()
        assert "/static/portal/portal.css" in html
        assert "This portal is for operator staff" in html and driver.get_username() in html
        assert 'action="/accounts/logout/"' in html and 'href="/haserver/tokens/"' in html
    # The login page does not bounce a logged-in driver back to the refusal.
    assert client.get("/accounts/login/").status_code in (200, 302)


def test_staff_without_the_pages_permission_get_a_styled_refusal(client, world):
    client.force_login(StaffFactory(operator=world["alpha"][0], role=""))
    response = client.get("/chargers/")
    assert response.status_code == 403 and "No access to this page" in response.content.decode()
