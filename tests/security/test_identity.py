"""One charge point identity rule everywhere (issue 16, finding 4): 1-48 printable ASCII
characters without "/", whitespace or control characters; the OCPP URL decoded once."""

from __future__ import annotations

import base64

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from bluecurrent.selectors import charge_point_for_driver
from chargepoints.identity import identity_is_valid
from chargepoints.models import ChargePoint
from chargepoints.services import charge_point_add, charge_point_connect
from tests.factories import OperatorFactory, SiteFactory
from tests.support.clients import make_api_key

VALID = ["CP-1", "a", "x" * 48, "station_42.A:B#~", "..%2F..%2Fadmin", "%E2%82%AC"]
INVALID = [
    "",
    "x" * 49,
    "a/b",
    "../../admin",
    "a b",
    "tab\there",
    "new\nline",
    "nul\x00",
    "del\x7f",
    "café",
    "€",
    ".",
    "..",
    None,
    42,
]


@pytest.mark.parametrize("identity", VALID)
def test_valid_identities(identity):
    assert identity_is_valid(identity)


@pytest.mark.parametrize("identity", INVALID)
def test_invalid_identities(identity):
    assert not identity_is_valid(identity)


@pytest.mark.django_db
@pytest.mark.parametrize("identity", ["../../admin", "a b", "x" * 49, "<img src=x onerror=alert(1)>"])
def test_pending_registration_refuses_an_invalid_identity(settings, identity):
    settings.OCPP_UNKNOWN_CHARGERS = "pending"
    assert charge_point_connect(identity=identity, password="a-password-0123456789", protocol="ocpp1.6") is None
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("identity", ["a/b", "a b", "caf\u00e9", "x" * 49])
def test_services_and_the_operator_api_refuse_an_invalid_identity(identity):
    with pytest.raises(ValidationError):
        charge_point_add(identity=identity)
    operator = OperatorFactory()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(operator))
    response = client.post(
        "/api/operator/charge-points/create/",
        {"identity": identity, "site": SiteFactory(operator=operator).pk},
        format="json",
    )
    assert response.status_code == 400
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_an_invalid_identity(admin_client):
    page = admin_client.get(reverse("admin:chargepoints_chargepoint_add"))
    assert page.status_code == 200
    data = {
        "identity": "bad id/1",
        "registration_status": "Accepted",
        "heartbeat_interval": 300,
        "connectors-TOTAL_FORMS": 0,
        "connectors-INITIAL_FORMS": 0,
    }
    response = admin_client.post(reverse("admin:chargepoints_chargepoint_add"), data)
    assert response.status_code == 200  # the form again, with the error
    assert "identity" in response.context["adminform"].form.errors
    assert not ChargePoint.objects.exists()


@pytest.mark.django_db
def test_blue_current_lookups_ignore_an_invalid_identity():
    user = User.objects.create(phone="+31600000001", username="+31600000001")
    assert charge_point_for_driver(user=user, evse_id="../x") is None
    assert charge_point_for_driver(user=user, evse_id={"$ne": 1}) is None


def _auth(identity: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()}


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
async def test_the_ocpp_url_is_decoded_once_and_a_raw_slash_is_refused_not_a_500(servers):
    url = servers.get("pending", OCPP_UNKNOWN_CHARGERS="pending")
    # Decoded once by the server: the charger is registered as the literal "..%2F..%2Fadmin".
    async with websockets.connect(
        url + "..%252F..%252Fadmin",
        subprotocols=["ocpp1.6"],
        additional_headers=_auth("..%2F..%2Fadmin", "a-password-0123456789"),
        open_timeout=10,
    ):
        pass
    identities = await sync_to_async(lambda: list(ChargePoint.objects.values_list("identity", flat=True)))()
    assert identities == ["..%2F..%2Fadmin"]
    # A raw %2F decodes to "/": refused in the handshake (403), not a server error.
    for path in ["a%2Fb", "..%2F..%2Fadmin", "a%20b", "x" * 49]:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await websockets.connect(
                url + path,
                subprotocols=["ocpp1.6"],
                additional_headers=_auth("a", "a-password-0123456789"),
                open_timeout=10,
            )
        assert refused.value.response.status_code == 403, path
    assert await sync_to_async(ChargePoint.objects.count)() == 1


@pytest.mark.django_db
def test_a_refused_remote_start_does_not_authorise_its_central_token():
    """A Central idToken is ours only through a start request the charger did not refuse:
    a rejected (or unsent) one leaves an unknown tag unknown."""
    from sessions_app.models import RemoteStartRequest
    from sessions_app.transaction_events import id_token_info_v201
    from tests.factories import ChargePointFactory

    charge_point: ChargePoint = ChargePointFactory()
    RemoteStartRequest.objects.create(
        charge_point=charge_point, id_token="NOT-A-CARD", status=RemoteStartRequest.Status.REJECTED
    )
    assert id_token_info_v201(id_token="NOT-A-CARD", token_type="Central", charge_point_id=charge_point.pk) == {
        "status": "Unknown"
    }
    RemoteStartRequest.objects.create(charge_point=charge_point, id_token="NOT-A-CARD")  # sent, not refused
    assert id_token_info_v201(id_token="NOT-A-CARD", token_type="Central", charge_point_id=charge_point.pk) == {
        "status": "Accepted"
    }
