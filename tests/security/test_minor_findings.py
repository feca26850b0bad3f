"""Issue 16's minor findings: OTP requests limited per (phone, address) so one attacker
cannot lock a driver out; JSON nested past the recursion limit answers a FormationViolation
(OCPP) or closes the events socket, without a traceback; CSV exports escape formula cells;
a signed Stripe checkout.session.completed authorises only its own reservation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from asgiref.sync import sync_to_async

from accounts import services as account_services
from accounts.errors import DomainError, RateLimited
from operator_api.base import csv_response
from tests.support.chargers import simulated
from tests.support.e2e import ROOT

DEEP = "[" * 30_000 + "]" * 30_000  # under OCPP_MAX_FRAME_CHARS, far past the recursion limit


@pytest.fixture
def sms(monkeypatch):
    sent = []
    monkeypatch.setattr(
        account_services, "get_sms_provider", lambda: type("S", (), {"send": lambda self, **kw: sent.append(kw)})()
    )
    return sent


@pytest.mark.django_db
def test_an_attacker_elsewhere_cannot_use_up_a_drivers_otp_requests(sms, settings):
    settings.DRIVERS_OTP_RATE_PER_PHONE_AND_IP, settings.DRIVERS_OTP_RATE_PER_PHONE = "3/600", "10/600"
    settings.DRIVERS_OTP_RATE_PER_IP = "1000/600"
    for _ in range(3):
        account_services.otp_request(phone="+31612345678", client_ip="6.6.6.6")
    for _ in range(20):  # refused ones count no further
        with pytest.raises(RateLimited):
            account_services.otp_request(phone="+31612345678", client_ip="6.6.6.6")
    # The driver, at home, still gets codes.
    account_services.otp_request(phone="+31612345678", client_ip="10.0.0.7")
    assert len(sms) == 4


@pytest.mark.django_db
def test_the_per_phone_cap_still_bounds_sms_to_one_number(sms, settings):
    settings.DRIVERS_OTP_RATE_PER_PHONE_AND_IP, settings.DRIVERS_OTP_RATE_PER_PHONE = "3/600", "4/600"
    for n in range(4):
        account_services.otp_request(phone="+31612345670", client_ip=f"6.6.6.{n}")
    with pytest.raises(DomainError):
        account_services.otp_request(phone="+31612345670", client_ip="6.6.6.9")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_json_nested_past_the_recursion_limit_answers_formation_violation_and_keeps_the_socket(
    servers, make_charge_point
):
    url = servers.get("a")
    log = ROOT / "var" / f"e2e-daphne-{url.split(':')[2].split('/')[0]}.log"
    log_start = log.stat().st_size
    cp = await sync_to_async(make_charge_point)()
    async with simulated(url, cp.identity) as charger:
        replies = []
        real = charger.route_message

        async def capture(raw):
            replies.append(raw)
            return await real(raw)

        charger.route_message = capture
        await charger._connection.send(DEEP)
        await charger._connection.send(
            '[2,"deep-1","DataTransfer",{"vendorId":"x","data":' + "[" * 5000 + "]" * 5000 + "}]"
        )
        assert await charger.heartbeat()  # the socket is still open and served
    errors = [json.loads(r) for r in replies if r.startswith("[4")]
    assert [e[2] for e in errors] == ["FormationViolation", "FormationViolation"]
    with open(log, encoding="utf-8", errors="replace") as written:
        written.seek(log_start)
        assert "Traceback" not in written.read()


@pytest.mark.django_db(transaction=True)
async def test_the_events_socket_closes_4007_on_unreadable_json():
    from channels.testing import WebsocketCommunicator

    from accounts.models import AccessToken
    from accounts.services import access_token_issue
    from drivers.consumers import CLOSE_INVALID_DATA, DriverEventsConsumer
    from tests.factories import DriverFactory

    token = await sync_to_async(lambda: access_token_issue(user=DriverFactory(), kind=AccessToken.Kind.DRIVER))()
    for text in [DEEP, "{not json"]:
        communicator = WebsocketCommunicator(DriverEventsConsumer.as_asgi(), f"/ws/events/?token={token}")
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_to(text_data=text)
        closed = await communicator.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": CLOSE_INVALID_DATA}
        await communicator.wait()


def test_csv_exports_escape_formula_cells():
    response = csv_response(
        "x.csv", ["a", "b", "c", "d", "e", "f"], [['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "plain", -5]]
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1] == ['\'=HYPERLINK("http://evil")', "'+1", "'-2+3", "'@SUM(A1)", "plain", "-5"]
