"""The portal in a real browser (Playwright driving Debian's chromium) against a real
daphne process: log in, watch a simulated charger come online live, send a reset and
read the charger's answer, open a session's chart (drawn on its canvas) and readings, a
charger's status history. Screenshots of the main pages go to $ARTIFACTS_DIR/screenshots
(default <repo>/artifacts/screenshots)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from tests.support.e2e import daphne_start, processes_stop, server_env

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "browser-charger-password"
STAFF_PASSWORD = "browser-staff-password"
IDENTITY_PREFIX = "BRW-CP-"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"Debian chromium is not installed at {CHROMIUM} (apt-get install chromium)",
    ),
]


def screenshots_dir() -> Path:
    base = os.environ.get("ARTIFACTS_DIR")
    folder = Path(base) / "screenshots" if base else ROOT / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _server_env() -> dict[str, str]:
    return server_env(OCPP_COMMAND_TIMEOUT="15")


@pytest.fixture
def portal_server(transactional_db):
    process, port = daphne_start("tests.portal.asgi_static:application", env=_server_env(), log_name="portal-daphne")
    yield port
    processes_stop([process])


@pytest.fixture
def simulator():
    started: list[subprocess.Popen] = []

    def start(port: int) -> subprocess.Popen:
        log = open(ROOT / "var" / f"portal-simulator-{port}.log", "w")
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "simulate_chargers",
                "--count",
                "1",
                "--connectors",
                "2",
                "--url",
                f"ws://127.0.0.1:{port}/ocpp/",
                "--password",
                PASSWORD,
                "--prefix",
                IDENTITY_PREFIX,
                "--rfid-every",
                "0",
                "--meter-interval",
                "2",
            ],
            env=_server_env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    processes_stop(started)


def seed() -> dict:
    from billing.models import PurchaseLine, WalletEntry
    from chargepoints.services import charge_point_add
    from sessions_app.models import MeterSample
    from tariffs.services import electricity_prices_generate
    from tests.factories import (
        PurchaseFactory,
        SiteFactory,
        StaffFactory,
        TariffFactory,
        WalletFactory,
    )

    staff = StaffFactory(username="browser-staff")
    staff.set_password(STAFF_PASSWORD)
    staff.save()
    site = SiteFactory(operator=staff.operator, name="Browser Test Site")
    cp = charge_point_add(
        identity=f"{IDENTITY_PREFIX}1", password=PASSWORD, connector_count=2, site=site, name="Browser charger"
    )
    connector = cp.connectors.get(connector_id=2)
    start = timezone.now() - timedelta(hours=3)
    purchase = PurchaseFactory(
        session__connector=connector,
        session__charge_point=cp,
        session__started_at=start,
        session__stopped_at=start + timedelta(hours=1),
        session__meter_start_wh=1000,
        session__meter_stop_wh=12000,
        session__soc_start_percent=20,
        session__soc_percent=80,
        total_price=Decimal("4.24"),
        subtotal=Decimal("3.50"),
        vat_amount=Decimal("0.74"),
        tariff=TariffFactory(operator=staff.operator, name="Standard AC"),
        status="open",
    )
    session = purchase.session
    PurchaseLine.objects.create(
        purchase=purchase,
        kind="energy",
        description="Energy 11.000 kWh at 0.30",
        quantity=Decimal("11"),
        unit="kWh",
        unit_price=Decimal("0.30"),
        amount=Decimal("3.30"),
    )
    PurchaseLine.objects.create(
        purchase=purchase,
        kind="session_fee",
        description="Session fee",
        quantity=Decimal("1"),
        unit="",
        unit_price=Decimal("0.20"),
        amount=Decimal("0.20"),
        position=1,
    )
    for minute in range(0, 61, 2):
        at = start + timedelta(minutes=minute)
        power = 11000 if minute < 40 else 11000 - (minute - 40) * 400
        MeterSample.objects.create(
            charge_point=cp,
            connector=connector,
            session=session,
            sampled_at=at,
            measurand="Power.Active.Import",
            value=Decimal(power),
            unit="W",
        )
        MeterSample.objects.create(
            charge_point=cp,
            connector=connector,
            session=session,
            sampled_at=at,
            measurand="Energy.Active.Import.Register",
            value=Decimal(1000 + minute * 183),
            unit="Wh",
        )
        MeterSample.objects.create(
            charge_point=cp,
            connector=connector,
            session=session,
            sampled_at=at,
            measurand="SoC",
            value=Decimal(20 + minute),
            unit="Percent",
        )
    for days_ago in range(1, 20):
        past = timezone.now() - timedelta(days=days_ago)
        PurchaseFactory(
            session__connector=connector,
            session__charge_point=cp,
            session__started_at=past,
            session__stopped_at=past + timedelta(hours=1),
            session__meter_start_wh=0,
            session__meter_stop_wh=5000 + days_ago * 700,
            created_at=past + timedelta(hours=1),
            total_price=Decimal("2.00") + days_ago / Decimal(10),
        )
    wallet = WalletFactory(user=session.user)
    WalletEntry.objects.create(wallet=wallet, kind="top_up", amount=Decimal("25.00"), idempotency_key="browser-topup")
    today = timezone.now().date()
    electricity_prices_generate(month_start=today.replace(day=1))
    return {"staff": staff, "cp": cp, "session": session}


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )


def test_operator_watches_a_charger_come_online_resets_it_and_reads_a_session_chart(portal_server, simulator):
    from playwright.sync_api import expect, sync_playwright

    data = seed()
    base = f"http://127.0.0.1:{portal_server}"
    shots = screenshots_dir()
    identity = data["cp"].identity
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        # Log in (the dashboard sends us to the portal login first).
        page.goto(base + "/")
        expect(page).to_have_url(f"{base}/accounts/login/?next=/")
        page.screenshot(path=str(shots / "01-login.png"))
        page.get_by_label("User name").fill("browser-staff")
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
        expect(page.locator("[data-live-note] .state")).to_have_text("live", timeout=10_000)
        expect(page.locator('[data-count="online"]')).to_have_text("0")

        # A simulated charger connects: the dashboard counts it online without a reload.
        simulator(portal_server)
        expect(page.locator('[data-count="online"]')).to_have_text("1", timeout=20_000)
        page.screenshot(path=str(shots / "02-dashboard.png"), full_page=True)

        # Its page: online, connectors reported by StatusNotification.
        page.goto(f"{base}/chargers/{identity}/")
        expect(page.locator("#cp-online")).to_have_text("Online", timeout=10_000)
        expect(page.locator("[data-live-note] .state")).to_have_text("live", timeout=10_000)
        expect(page.locator("#frames")).to_contain_text("BootNotification")

        # Reset: the charger's own answer is shown.
        reset_form = page.locator("form", has=page.locator('input[name="command"][value="reset"]'))
        reset_form.get_by_label("Type").select_option("Soft")
        reset_form.get_by_role("button", name="Reset").click()
        expect(page.locator("[data-answer-status]")).to_have_text("Accepted", timeout=20_000)
        expect(page.locator("#command-answer")).to_contain_text("Reset (Reset): the charger answered")
        page.screenshot(path=str(shots / "03-charger-reset-answer.png"), full_page=True)

        # After the soft reset the charger reboots; the page follows it live.
        expect(page.locator("#frames")).to_contain_text("Reset", timeout=10_000)

        # A command the charger is not connected for gives a clear error (other charger id).
        # Session chart.
        page.goto(f"{base}/sessions/{data['session'].pk}/")
        expect(page.get_by_role("heading", name="Power and energy over time")).to_be_visible()
        points = page.evaluate(
            "() => { const c = Chart.getChart('power-chart'); return c ? c.data.datasets.map(d => d.data.length) : null; }"
        )
        assert points == [31, 31]
        assert page.evaluate("() => !!Chart.getChart('soc-chart')")
        expect(page.get_by_role("cell", name="Session fee")).to_be_visible()
        page.screenshot(path=str(shots / "04-session-chart.png"), full_page=True)

        for name, path in [
            ("05-map", "/map/"),
            ("06-chargers", "/chargers/"),
            ("07-sessions", "/sessions/"),
            ("08-tariffs", "/tariffs/"),
            ("09-journal", f"/journal/?identity={identity}"),
            ("10-drivers", "/drivers/"),
            ("11-purchases", "/purchases/"),
            ("12-payments", "/payments/"),
            ("13-wallets", "/wallets/"),
        ]:
            page.goto(base + path)
            expect(page.locator("h1")).to_be_visible()
            if path == "/map/":
                expect(page.locator(".leaflet-interactive").first).to_be_attached(timeout=5_000)
            if path == "/tariffs/":
                assert page.evaluate("() => !!Chart.getChart('price-chart')")
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # Tablet width: the dashboard still lays out without horizontal scrolling of the page.
        tablet = browser.new_page(viewport={"width": 768, "height": 1024})
        tablet.context.add_cookies(page.context.cookies())
        tablet.goto(base + "/")
        expect(tablet.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
        assert tablet.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        tablet.screenshot(path=str(shots / "14-dashboard-tablet.png"), full_page=True)

        # Keyboard: the skip link is the first stop and moves focus to the content.
        page.goto(base + "/")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"

        assert errors == [], errors
        browser.close()


# --- issue 18: every page at a laptop's and a phone's width; the operator's new tools ----

WIDTHS = (1366, 390)


def seed_more(data: dict) -> dict:
    """Beside seed(): a 2.0.1 station at the same site (same coordinates on the map) with a
    device model of long values and a status history with long error texts, an operator
    card, a driver account, site load settings."""
    from chargepoints.models import ChargePoint, DeviceVariable
    from chargepoints.services import charge_point_add, connector_update_status
    from tests.factories import DriverFactory, IdTokenFactory

    cp = data["cp"]
    station = charge_point_add(
        identity=f"{IDENTITY_PREFIX}201-WITH-A-RATHER-LONG-IDENTITY",
        password=PASSWORD,
        connector_count=2,
        site=cp.site,
        name="Station 2.0.1",
    )
    ChargePoint.objects.filter(pk=station.pk).update(
        protocol="ocpp2.0.1", firmware_version="2.0.1-" + "x" * 44
    )  # the field's 50
    for n in range(12):
        DeviceVariable.objects.create(
            charge_point=station,
            component_name="OCPPCommCtrlr" if n % 2 else "SecurityCtrlr",
            variable_name=f"NetworkConfigurationPriority{n}",
            value="https://csms.example.com/ocpp/very/long/path/" + "segment/" * 12 + str(n),
            mutability="ReadWrite",
        )
    history = [
        ("Available", "NoError", "", ""),
        ("Occupied", "NoError", "", ""),
        ("Faulted", "GroundFailure", "Residual current device tripped on the AC outlet", "RCD-TRIP-0x7F3A-PHASE-L2-N"),
        ("Unavailable", "NoError", "Maintenance window booked by the site operator", ""),
    ]
    for minutes_ago, (status, error_code, info, vendor_code) in zip((40, 30, 20, 10), history):
        connector_update_status(
            charge_point_id=station.pk,
            connector_id=1,
            status=status,
            error_code=error_code,
            info=info,
            vendor_error_code=vendor_code,
            at=timezone.now() - timedelta(minutes=minutes_ago),
        )
    card = IdTokenFactory(uid="BRW-CARD-1", name="Browser fleet card", operator=cp.site.operator)
    driver = DriverFactory()
    return {"station": station, "card": card, "driver": driver}


def logged_in_cookies(user, base: str) -> list[dict]:
    """A session cookie for `user` made the way the portal's own login makes them."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]


def assert_fits(page, name: str, width: int) -> None:
    """The page needs no horizontal scrolling at this width (wide tables scroll in their box)."""
    scroll_width = page.evaluate("() => document.scrollingElement.scrollWidth")
    inner_width = page.evaluate("() => window.innerWidth")
    assert scroll_width <= inner_width, f"{name} at {width} px is {scroll_width} px wide"


# What the power chart's canvas holds: its datasets' points, where Chart.js placed them,
# and how many pixels of its plot area (the legend left out) carry the power line's colour
# (palette[0] of portal.js).
CURVE_ON_CANVAS = """() => {
  const chart = Chart.getChart('power-chart');
  if (!chart) { return null; }
  const area = chart.chartArea, canvas = chart.canvas;
  const placed = chart.getDatasetMeta(0).data.every(p =>
    p.x >= area.left - 1 && p.x <= area.right + 1 && p.y >= area.top - 1 && p.y <= area.bottom + 1);
  const scale = window.devicePixelRatio, left = Math.ceil(area.left * scale), top = Math.ceil(area.top * scale);
  const pixels = canvas.getContext('2d').getImageData(
    left, top, Math.floor(area.right * scale) - left, Math.floor(area.bottom * scale) - top).data;
  let powerPixels = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] > 200 && Math.abs(pixels[i] - 0x0b) < 24 && Math.abs(pixels[i + 1] - 0x5c) < 24
        && Math.abs(pixels[i + 2] - 0xad) < 24) { powerPixels += 1; }
  }
  return { points: chart.data.datasets.map(d => d.data.length), placed: placed,
           areaWidth: Math.round(area.right - area.left), canvasWidth: canvas.clientWidth,
           powerPixels: powerPixels, scale: scale };
}"""


def assert_curve_drawn(view, width: int) -> None:
    """The session's curve is on the canvas: 31 power and 31 energy points placed inside the
    plot area, and the power line painted across it (the stepped line spans the plot, so it
    paints more pixels of its colour there than the plot is wide; an empty plot paints none)."""
    drawn = view.evaluate(CURVE_ON_CANVAS)
    assert drawn is not None, f"no power chart at {width} px"
    assert drawn["points"] == [31, 31] and drawn["placed"], drawn
    assert 0 < drawn["canvasWidth"] <= width, drawn
    assert drawn["powerPixels"] > drawn["areaWidth"] * drawn["scale"], drawn


def assert_session_readings(view) -> None:
    """The latest 50 of the seeded session's 93 readings, and the link to all of them."""
    table = view.locator("#meter-values")
    assert table.locator("tbody tr").count() == 50
    assert "The latest 50 of 93 readings" in table.locator("caption").inner_text()
    assert view.locator("#meter-values-api").get_attribute("href").endswith("/meter-values/")


def test_every_portal_page_fits_a_laptop_and_a_phone_and_the_operator_tools_work(portal_server, simulator):
    from playwright.sync_api import expect, sync_playwright

    data = seed()
    more = seed_more(data)
    base = f"http://127.0.0.1:{portal_server}"
    shots = screenshots_dir()
    identity, station = data["cp"].identity, more["station"].identity
    staff_cookies = logged_in_cookies(data["staff"], base)
    driver_cookies = logged_in_cookies(more["driver"], base)
    wallet_id, site_id = data["session"].user.wallet.pk, data["cp"].site_id
    simulator(portal_server)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        errors: list[str] = []
        laptop = browser.new_context(viewport={"width": 1366, "height": 900})
        laptop.add_cookies(staff_cookies)
        page = laptop.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))

        # Remote start with a card picked from the operator's cards.
        page.goto(f"{base}/chargers/{identity}/")
        expect(page.locator("#cp-online")).to_have_text("Online", timeout=20_000)
        start_form = page.locator("form", has=page.locator('input[name="command"][value="remote-start"]'))
        start_form.get_by_label("Card").select_option("BRW-CARD-1")
        start_form.get_by_role("button", name="Remote start").click()
        expect(page.locator("[data-answer-status]")).to_have_text("Accepted", timeout=20_000)

        # A hard reset is not sent unconfirmed.
        reset_form = page.locator("form", has=page.locator('input[name="command"][value="reset"]'))
        reset_form.get_by_label("Type").select_option("Hard")
        reset_form.get_by_role("button", name="Reset").click()
        expect(page.locator("[data-answer-error]")).to_contain_text("Not sent: a hard reset")

        # The session's page follows the charger live: energy grows, the cost so far is shown.
        page.goto(f"{base}/sessions/?status=active")
        page.locator("tbody tr", has_text=identity).first.get_by_role("link").first.click()
        expect(page.locator("[data-live-note] .state")).to_have_text("live", timeout=10_000)
        expect(page.locator('[data-field="cost"]')).to_contain_text("EUR")
        expect(page.locator('[data-field="energy"]')).not_to_have_text("0.00", timeout=30_000)
        session_url = page.url

        # Stop it from the sessions list; the stop reason shows once the charger reports it.
        page.goto(f"{base}/sessions/")
        row = page.locator("tbody tr", has=page.locator("button", has_text="Stop")).first
        row.get_by_role("button", name="Stop").click()
        expect(page.locator(".message-success")).to_contain_text("the charger accepted the stop", timeout=20_000)
        session_path = session_url.replace(base, "")
        page.goto(f"{base}/sessions/?q={identity}")
        expect(page.locator(f'tr:has(a[href="{session_path}"]) [data-field="stop-reason"]')).to_have_text(
            "Remote", timeout=20_000
        )

        # The map: the two chargers of the site share its coordinates but not their spot.
        page.goto(f"{base}/map/")
        markers = page.locator("path.leaflet-interactive")
        expect(markers).to_have_count(2, timeout=10_000)
        first, second = markers.nth(0).bounding_box(), markers.nth(1).bounding_box()
        apart = ((first["x"] - second["x"]) ** 2 + (first["y"] - second["y"]) ** 2) ** 0.5
        assert apart >= first["width"], f"markers {apart:.1f} px apart, each {first['width']:.1f} px wide"

        pages = [
            ("dashboard", "/", "Dashboard"),
            ("map", "/map/", "Map of sites and chargers"),
            ("chargers", "/chargers/", "Chargers"),
            ("charger-1.6", f"/chargers/{identity}/", "Browser charger"),
            ("charger-2.0.1", f"/chargers/{station}/", "Station 2.0.1"),
            ("sessions", "/sessions/", "Charge sessions"),
            ("session-live", session_path, "Session"),
            ("session-chart", f"/sessions/{data['session'].pk}/", "Session"),
            ("tariffs", "/tariffs/", "Tariffs and hourly prices"),
            ("journal", f"/journal/?identity={identity}", "OCPP frame journal"),
            ("drivers", "/drivers/", "Drivers"),
            ("purchases", "/purchases/", "Purchases"),
            ("payments", "/payments/", "Payments"),
            ("wallets", "/wallets/", "Wallets"),
            ("wallet", f"/wallets/{wallet_id}/", "Wallet of"),
            ("site-load", f"/sites/{site_id}/load/", "Load management"),
        ]
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        phone.add_cookies(staff_cookies)
        views = {1366: page, 390: phone.new_page()}
        views[390].on("pageerror", lambda error: errors.append(str(error)))
        for width, view in views.items():
            for name, path, heading in pages:
                view.goto(base + path)
                expect(view.locator("h1")).to_contain_text(heading)
                if name == "session-chart":
                    assert_curve_drawn(view, width)
                    assert_session_readings(view)
                if name == "charger-1.6":  # the simulator's StatusNotifications, the remote start
                    expect(view.locator("#status-history")).to_contain_text("Charging")
                if name == "charger-2.0.1":
                    history = view.locator("#status-history tbody tr")
                    expect(history).to_have_count(4)
                    expect(history.first).to_contain_text("Unavailable")
                    expect(history.nth(1)).to_contain_text("GroundFailure")
                    expect(history.nth(1)).to_contain_text("Vendor code RCD-TRIP-0x7F3A-PHASE-L2-N. Residual current")
                assert_fits(view, name, width)
                view.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)

        # Pages of people who are not (logged in as) staff.
        for width in WIDTHS:
            anonymous = browser.new_context(viewport={"width": width, "height": 900})
            view = anonymous.new_page()
            view.goto(base + "/")
            expect(view.get_by_role("heading", name="Log in")).to_be_visible()
            assert_fits(view, "login", width)
            view.screenshot(path=str(shots / f"login-{width}.png"), full_page=True)
            anonymous.close()

            driver = browser.new_context(viewport={"width": width, "height": 900})
            driver.add_cookies(driver_cookies)
            view = driver.new_page()
            response = view.goto(base + "/")
            assert response.status == 403
            expect(view.get_by_role("heading", name="This portal is for operator staff")).to_be_visible()
            expect(view.get_by_role("button", name="Log out and log in as staff")).to_be_visible()
            assert view.evaluate("() => getComputedStyle(document.querySelector('.card')).borderRadius") == "8px"
            assert_fits(view, "driver", width)
            view.screenshot(path=str(shots / f"driver-refused-{width}.png"), full_page=True)
            driver.close()

        assert errors == [], errors
        browser.close()
