"""Portal pages: access, operator scoping, every page rendering, bounded query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import DriverFactory

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_the_portal_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content


def test_staff_log_in_through_the_portal_login_page(client, world, django_user_model):
    from tests.factories import StaffFactory

    StaffFactory(username="alice", operator=world["alpha"][0])
    response = client.post("/accounts/login/", {"username": "alice", "password": "staff-password"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_drivers_are_refused_the_portal(client, world):
    driver = DriverFactory()
    client.force_login(driver)
    assert client.get("/").status_code == 403
    assert client.get("/chargers/").status_code == 403


PAGES = [
    "/",
    "/dashboard/live/",
    "/map/",
    "/chargers/",
    "/chargers/?status=charging",
    "/chargers/?q=CP-0",
    "/journal/",
    "/journal/?identity=Alpha-CP-0&text=Vendor",
    "/sessions/",
    "/sessions/?status=active",
    "/tariffs/",
    "/drivers/",
    "/purchases/",
    "/payments/",
    "/wallets/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders_for_staff(alpha_client, url):
    response = alpha_client.get(url)
    assert response.status_code == 200, response.content[:500]
    assert b"<h1>" in response.content or url.endswith("/live/")


def test_staff_see_only_their_operators_chargers(alpha_client, world):
    page = alpha_client.get("/chargers/").content.decode()
    assert "Alpha-CP-0" in page and "Beta-CP-0" not in page
    assert alpha_client.get("/chargers/Beta-CP-0/").status_code == 404
    assert alpha_client.get("/chargers/Alpha-CP-0/").status_code == 200
    beta_session = world["beta"][2][0]
    assert alpha_client.get(f"/sessions/{beta_session.pk}/").status_code == 404
    for url in ["/sessions/", "/purchases/", "/journal/", "/map/", "/drivers/", "/payments/"]:
        assert "Beta-CP" not in alpha_client.get(url).content.decode(), url


def test_staff_without_an_operator_see_nothing(client, world):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory(operator=None))
    assert "Alpha-CP-0" not in client.get("/chargers/").content.decode()


def test_superusers_see_every_operator(admin_client_all):
    page = admin_client_all.get("/chargers/").content.decode()
    assert "Alpha-CP-0" in page and "Beta-CP-0" in page


def test_dashboard_counts_and_chart_data(alpha_client):
    response = alpha_client.get("/")
    counts = response.context["counts"]
    assert counts == {
        "chargers": 2,
        "online": 1,
        "offline": 1,
        "connectors": 2,
        "charging": 1,
        "faulted": 0,
        "available": 0,
    }
    charts = response.context["charts"]
    assert len(charts["days"]) == 30
    assert sum(charts["sessions"]) == 5  # 4 completed within the window + the active one
    assert sum(Decimal(v) for v in charts["revenue"]["EUR"]) == Decimal("14.00")
    assert all(v.endswith(".00") or len(v.split(".")[1]) == 2 for v in charts["revenue"]["EUR"])
    assert b'id="daily-data"' in response.content


def test_session_detail_has_chart_lines_and_payments(alpha_client, world):
    active = world["alpha"][3]
    response = alpha_client.get(f"/sessions/{active.pk}/")
    chart = response.context["chart"]
    assert len(chart["power"]) == 10 and chart["power"][0][1] == 7400
    assert chart["energy"][-1][1] == 1000 + 200 * 9 - active.meter_start_wh
    assert [p[1] for p in chart["soc"]][:2] == [40.0, 41.0]
    completed = world["alpha"][2][0]
    page = alpha_client.get(f"/sessions/{completed.pk}/").content.decode()
    assert "Energy" in page and "3.50" in page and "Sandbox" in page


def test_charger_detail_lists_every_command(alpha_client):
    page = alpha_client.get("/chargers/Alpha-CP-0/").content.decode()
    for command in [
        "reset",
        "unlock",
        "availability",
        "limit",
        "clear-limit",
        "trigger",
        "get-configuration",
        "change-configuration",
        "remote-start",
        "remote-stop",
        "firmware",
        "diagnostics",
        "clear-cache",
    ]:
        assert f'name="command" value="{command}"' in page
    assert "BootNotification" in page  # the last journal frames


@pytest.mark.parametrize(
    "url,limit",
    [
        ("/", 14),
        ("/dashboard/live/", 10),
        ("/map/", 10),
        ("/chargers/", 10),
        ("/chargers/Alpha-CP-0/", 16),
        ("/journal/", 8),
        ("/sessions/", 10),
        ("/tariffs/", 10),
        ("/drivers/", 10),
        ("/purchases/", 10),
        ("/payments/", 10),
        ("/wallets/", 10),
    ],
)
def test_pages_use_a_bounded_number_of_queries(alpha_client, world, django_assert_max_num_queries, url, limit):
    from tests.portal.conftest import seed_operator

    seed_operator("Alpha2", chargers=8)  # more rows must not mean more queries
    with django_assert_max_num_queries(limit):
        assert alpha_client.get(url).status_code == 200


def test_wallet_detail_shows_balance(admin_client_all):
    from billing.models import Wallet

    wallet = Wallet.objects.first()
    page = admin_client_all.get(reverse("portal-wallet", args=[wallet.pk])).content.decode()
    assert "20.00" in page


def test_session_times_are_shown_in_the_sites_zone(alpha_client, world):
    from datetime import UTC, datetime

    session = world["alpha"][3]
    session.started_at = datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    session.save(update_fields=["started_at"])
    page = alpha_client.get(f"/sessions/{session.pk}/").content.decode()
    assert '2025-07-01 12:00:00 <span class="muted">Europe/Amsterdam</span>' in page


def test_finished_days_are_cached_but_today_stays_fresh(alpha_client, world):
    from django.utils import timezone

    from chargepoints.models import Connector
    from tests.factories import ChargeSessionFactory

    first = alpha_client.get("/").context["charts"]["sessions"]
    connector = Connector.objects.get(charge_point__identity="Alpha-CP-1")
    ChargeSessionFactory(
        connector=connector,
        charge_point=connector.charge_point,
        status="completed",
        stopped_at=timezone.now(),
        meter_stop_wh=2000,
    )  # started an hour ago
    second = alpha_client.get("/").context["charts"]["sessions"]
    assert second[-1] == first[-1] + 1 and second[:-1] == first[:-1]


def test_long_lists_count_at_most_the_cap(alpha_client, monkeypatch):
    from portal import views

    monkeypatch.setattr(views, "COUNT_CAP", 2)
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    page = alpha_client.get("/purchases/?page=2").content.decode()
    assert "Page 2 of 3+ (more than 2 in all)" in page
