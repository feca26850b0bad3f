"""The README's Home Assistant flow, end to end on the demo data: the demo driver logs in on
/haserver/login/ with a phone code, creates an API token on /haserver/tokens/, and the real
bluecurrent-api client with that token sees the demo chargers."""

from __future__ import annotations

import re

import pytest
import requests
from asgiref.sync import sync_to_async
from bluecurrent_api import Client
from bluecurrent_api import websocket as bc_websocket
from django.core.management import call_command

from tests.bluecurrent.frames import Live, by_object

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEV_CODE = "246810"
DEMO_PHONE = "+31612345678"
DEMO_CHARGERS = ["DEMO-201-1", "DEMO-CP-1", "DEMO-CP-2", "DEMO-CP-3"]


@pytest.fixture
def demo_server(servers, transactional_db, monkeypatch) -> str:
    """A server whose SMS codes are the fixed dev code (as `dev.py run` has them), on the demo data."""
    call_command("load_demo", stdout=open("/dev/null", "w"))
    ws = servers.get("demo-otp", DRIVERS_OTP_DEV_CODE_ENABLED="true", DRIVERS_OTP_DEV_CODE=DEV_CODE)
    monkeypatch.setattr(bc_websocket, "URL", ws.replace("/ocpp/", "/haserver"))
    return ws.replace("ws://", "http://").replace("/ocpp/", "")


def csrf_of(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def token_from_the_page(base: str) -> str:
    """What a driver does in a browser: open the token page, log in by phone code, create a token."""
    browser = requests.Session()
    page = browser.get(f"{base}/haserver/tokens/", timeout=10)
    assert page.url == f"{base}/haserver/login/?next=/haserver/tokens/"
    page = browser.post(
        page.url,
        data={"csrfmiddlewaretoken": csrf_of(page), "action": "send", "phone": DEMO_PHONE, "next": "/haserver/tokens/"},
        timeout=10,
    )
    assert page.status_code == 200 and 'id="code-form"' in page.text
    page = browser.post(
        page.url,
        data={
            "csrfmiddlewaretoken": csrf_of(page),
            "action": "check",
            "phone": DEMO_PHONE,
            "code": DEV_CODE,
            "next": "/haserver/tokens/",
        },
        timeout=10,
    )
    assert page.status_code == 200 and page.url == f"{base}/haserver/tokens/"
    page = browser.post(
        page.url, data={"csrfmiddlewaretoken": csrf_of(page), "action": "create", "name": "Home Assistant"}, timeout=10
    )
    return re.search(r'<code id="new-token">([^<]+)</code>', page.text).group(1)


async def test_the_demo_driver_gets_a_token_on_the_web_and_home_assistant_sees_the_demo_chargers(demo_server):
    api_token = await sync_to_async(token_from_the_page)(demo_server)
    client = Client()
    await client.validate_api_token(api_token)
    live = Live(client)
    await live.start()
    try:
        await client.get_charge_points()
        points = await live.next(by_object("CHARGE_POINTS"))
        assert sorted(cp["evse_id"] for cp in points["data"]) == DEMO_CHARGERS
        await client.get_charge_cards()
        cards = await live.next(by_object("CHARGE_CARDS"))
        assert [card["uid"] for card in cards["data"]] == ["DEMOCARD01"]
    finally:
        await live.stop()
