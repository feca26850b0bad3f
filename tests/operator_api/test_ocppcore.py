"""/API/ (the OCPP.Core contract) with the command bus swapped for a fake."""

from __future__ import annotations

import pytest

from chargepoints.models import ChargingProfile, Connector
from sessions_app.models import RemoteStartRequest
from tests.factories import ChargeSessionFactory

pytestmark = pytest.mark.django_db


def test_status_lists_connected_chargers_of_the_key_operator_only(client, charger, foreign_charger):
    Connector.objects.filter(charge_point=charger, connector_id=1).update(
        status="Charging",
        power_w=7400,
        meter_wh=12345,
        soc_percent=55,
    )
    answer = client.get("/API/Status")
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "id": "station42",
            "name": "myWallbox",
            "protocol": "ocpp1.6",
            "OnlineConnectors": {
                "1": {"Status": 2, "ChargeRateKW": 7.4, "MeterKWH": 12.345, "SoC": 55},
                "2": {"Status": 1, "ChargeRateKW": None, "MeterKWH": None, "SoC": None},
            },
        }
    ]


def test_status_leaves_out_disconnected_chargers(client, charger):
    charger.is_online = False
    charger.save()
    assert client.get("/API/Status").json() == []


@pytest.mark.parametrize("path", ["/API/Status", "/API/Reset/station42", "/API/UnlockConnector/station42/1"])
def test_it_answers_401_without_a_key(anonymous, charger, path):
    assert anonymous.get(path).status_code == 401


def test_it_answers_401_with_a_wrong_or_revoked_key(anonymous, charger, api_key):
    anonymous.credentials(HTTP_X_API_KEY="op_wrong")
    assert anonymous.get("/API/Status").status_code == 401
    from django.utils import timezone

    from accounts.models import ApiKey

    ApiKey.objects.update(revoked_at=timezone.now())
    anonymous.credentials(HTTP_X_API_KEY=api_key)
    assert anonymous.get("/API/Status").status_code == 401


def test_reset_answers_the_chargers_status(client, charger, bus):
    bus.answers["Reset"] = {"status": "Rejected"}
    answer = client.get("/API/Reset/station42")
    assert answer.status_code == 200
    assert answer.json() == {"status": "Rejected"}
    assert bus.calls == [("station42", "Reset", {"type": "Soft"})]


def test_post_works_like_get(client, charger, bus):
    assert client.post("/API/Reset/station42").json() == {"status": "Accepted"}


def test_another_operators_charger_is_not_found(client, foreign_charger, bus):
    assert client.get("/API/Reset/elsewhere").status_code == 404
    assert bus.calls == []


def test_unknown_charger_and_connector_are_not_found(client, charger, bus):
    assert client.get("/API/Reset/nope").status_code == 404
    # Unlock answers for a connector we do not know as a 2.0.1 station would (issue 18).
    unknown = client.get("/API/UnlockConnector/station42/9")
    assert unknown.status_code == 200 and unknown.json() == {"status": "UnknownConnector"}
    assert client.get("/API/UnlockConnector/station42/0").status_code == 404
    assert client.get("/API/SetChargingLimit/station42/9/16A").status_code == 404
    assert bus.calls == []


def test_a_non_numeric_connector_is_a_bad_request(client, charger, bus):
    answer = client.get("/API/UnlockConnector/station42/one")
    assert answer.status_code == 400
    assert "not a number" in answer.json()["detail"]


def test_a_silent_charger_gives_status_timeout(client, charger, bus):
    bus.raises["Reset"] = bus.error("CommandTimeout", "no answer in 60 s")
    answer = client.get("/API/Reset/station42")
    assert answer.status_code == 200
    assert answer.json() == {"status": "Timeout"}


def test_a_disconnected_charger_is_not_found(client, charger, bus):
    bus.raises["Reset"] = bus.error("ChargerOffline", "station42 is not connected")
    answer = client.get("/API/Reset/station42")
    assert answer.status_code == 404
    assert answer.json()["status"] == "Offline"


def test_a_call_error_is_a_bad_gateway(client, charger, bus):
    bus.raises["Reset"] = bus.error("CallErrorReceived", "NotImplemented")
    assert client.get("/API/Reset/station42").status_code == 502


def test_unlock_sends_the_connector(client, charger, bus):
    bus.answers["UnlockConnector"] = {"status": "Unlocked"}
    assert client.get("/API/UnlockConnector/station42/2").json() == {"status": "Unlocked"}
    assert bus.calls == [("station42", "UnlockConnector", {"connectorId": 2})]


def test_unlock_on_a_201_charger_addresses_evse_and_connector(client, charger, bus):
    charger.protocol = "ocpp2.0.1"
    charger.save()
    bus.answers["UnlockConnector"] = {"status": "OngoingAuthorizedTransaction"}
    assert client.get("/API/UnlockConnector/station42/2").json() == {"status": "OngoingAuthorizedTransaction"}
    assert bus.calls == [("station42", "UnlockConnector", {"evseId": 2, "connectorId": 1})]


def test_set_charging_limit_in_watts_sends_a_daily_constant_profile(client, charger, bus):
    answer = client.get("/API/SetChargingLimit/station42/1/2000W")
    assert answer.json() == {"status": "Accepted"}
    ((_, action, payload),) = bus.calls
    assert action == "SetChargingProfile"
    assert payload["connectorId"] == 1
    profile = payload["csChargingProfiles"]
    assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert profile["chargingProfileKind"] == "Recurring"
    assert profile["recurrencyKind"] == "Daily"
    assert profile["chargingSchedule"]["duration"] == 86400
    assert profile["chargingSchedule"]["chargingRateUnit"] == "W"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 2000.0}]
    row = ChargingProfile.objects.get()
    assert (row.status, row.connector_id, row.charging_rate_unit, row.source) == ("active", 1, "W", "api")


def test_a_limit_on_a_201_charger_addresses_the_evse_of_the_connector(client, charger, bus):
    # One EVSE with two connectors (our connectors 1 and 2 are EVSE 1's connectors 1 and 2).
    charger.protocol = "ocpp2.0.1"
    charger.save()
    evse = charger.evses.get(evse_id=1)
    charger.connectors.filter(connector_id=2).update(evse=evse, evse_connector_id=2)
    assert client.get("/API/SetChargingLimit/station42/2/16A").json() == {"status": "Accepted"}
    ((_, action, payload),) = bus.calls
    assert action == "SetChargingProfile" and payload["evseId"] == 1
    assert payload["chargingProfile"]["chargingProfilePurpose"] == "TxDefaultProfile"
    assert payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0}
    ]
    # Connector 1 shares the EVSE, hence the profile: same id, so it replaces, not stacks.
    client.get("/API/SetChargingLimit/station42/1/10A")
    assert bus.calls[-1][2]["evseId"] == 1
    assert bus.calls[-1][2]["chargingProfile"]["id"] == payload["chargingProfile"]["id"]
    assert client.get("/API/ClearChargingLimit/station42/2").json() == {"status": "Accepted"}
    assert bus.calls[-1] == (
        "station42",
        "ClearChargingProfile",
        {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile"}},
    )
    # The whole station: EVSE 0.
    client.get("/API/SetChargingLimit/station42/0/32A")
    assert bus.calls[-1][2]["evseId"] == 0
    assert bus.calls[-1][2]["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"


def test_a_limit_on_connector_0_limits_the_whole_charger(client, charger, bus):
    client.get("/API/SetChargingLimit/station42/0/16A")
    ((_, _, payload),) = bus.calls
    assert payload["connectorId"] == 0
    assert payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert payload["csChargingProfiles"]["chargingSchedule"]["chargingRateUnit"] == "A"


def test_a_new_limit_replaces_the_previous_one(client, charger, bus):
    client.get("/API/SetChargingLimit/station42/1/16A")
    client.get("/API/SetChargingLimit/station42/1/10A")
    assert list(ChargingProfile.objects.order_by("id").values_list("status", flat=True)) == ["cleared", "active"]


def test_a_rejected_limit_is_recorded_as_rejected(client, charger, bus):
    bus.answers["SetChargingProfile"] = {"status": "Rejected"}
    assert client.get("/API/SetChargingLimit/station42/1/16A").json() == {"status": "Rejected"}
    assert ChargingProfile.objects.get().status == "rejected"


@pytest.mark.parametrize("limit", ["12X", "-5W", "0W", "0A", "W", "16", "1e3W", "99999999999W"])
def test_a_malformed_limit_is_a_bad_request_with_a_message(client, charger, bus, limit):
    answer = client.get(f"/API/SetChargingLimit/station42/1/{limit}")
    assert answer.status_code == 400
    assert answer.json()["detail"]
    assert bus.calls == []


def test_limit_on_a_201_charger_uses_the_201_profile(client, charger, bus):
    charger.protocol = "ocpp2.0.1"
    charger.save()
    client.get("/API/SetChargingLimit/station42/0/11000W")
    ((_, action, payload),) = bus.calls
    assert payload["evseId"] == 0
    assert payload["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 11000.0}
    ]
    row = ChargingProfile.objects.get()
    assert (row.status, row.connector_id, row.purpose, row.charging_rate_unit, row.source) == (
        "active",
        0,
        "ChargingStationMaxProfile",
        "W",
        "api",
    )


def test_a_limit_without_an_answer_in_time_is_recorded_as_pending(client, charger, bus):
    client.get("/API/SetChargingLimit/station42/1/16A")
    bus.raises["SetChargingProfile"] = bus.error("CommandTimeout", "no answer in 60 s")
    assert client.get("/API/SetChargingLimit/station42/1/10A").json() == {"status": "Timeout"}
    assert list(ChargingProfile.objects.order_by("id").values_list("status", "source")) == [
        ("cleared", "api"),
        ("pending", "api"),
    ]


def test_clear_charging_limit(client, charger, bus):
    client.get("/API/SetChargingLimit/station42/1/16A")
    assert client.get("/API/ClearChargingLimit/station42/1").json() == {"status": "Accepted"}
    assert bus.calls[-1] == (
        "station42",
        "ClearChargingProfile",
        {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile"},
    )
    assert ChargingProfile.objects.get().status == "cleared"


def test_get_configuration_answers_the_raw_payload(client, charger, bus):
    raw = {"configurationKey": [{"key": "EVConnectionTimeOut", "readonly": False, "value": "120"}], "unknownKey": []}
    bus.answers["GetConfiguration"] = raw
    assert client.get("/API/GetConfiguration/station42/EVConnectionTimeOut").json() == raw
    assert client.get("/API/GetConfiguration/station42").json() == raw
    assert [call[2] for call in bus.calls] == [{"key": ["EVConnectionTimeOut"]}, {}]


def test_change_configuration(client, charger, bus):
    bus.answers["ChangeConfiguration"] = {"status": "RebootRequired"}
    assert client.get("/API/ChangeConfiguration/station42/EVConnectionTimeOut/90").json() == {
        "status": "RebootRequired"
    }
    assert bus.calls == [("station42", "ChangeConfiguration", {"key": "EVConnectionTimeOut", "value": "90"})]


def test_remote_start(client, charger, bus):
    assert client.get("/API/RemoteStartTransaction/station42/1/tag1234").json() == {"status": "Accepted"}
    assert bus.calls == [("station42", "RemoteStartTransaction", {"connectorId": 1, "idTag": "tag1234"})]


def test_remote_start_on_a_201_charger_sends_a_201_request(client, charger, bus):
    charger.protocol = "ocpp2.0.1"
    charger.save()
    tag = "3f2c9a1e-7b4d-4e8a-9c61-0d5e8f2b7a43"  # longer than a 1.6 idTag
    assert client.get(f"/API/RemoteStartTransaction/station42/2/{tag}").json() == {"status": "Accepted"}
    # The request the station receives (ocpp_consumer.remote_control): the token with the type
    # we know it by, and our remoteStartId, which links its TransactionEvent to this request.
    [(identity, action, payload)] = bus.calls
    assert (identity, action) == ("station42", "RequestStartTransaction")
    assert payload["idToken"] == {"idToken": tag, "type": "Central"} and payload["evseId"] == 2
    assert RemoteStartRequest.objects.filter(pk=payload["remoteStartId"], id_token=tag, status="accepted").exists()
    assert client.get(f"/API/RemoteStartTransaction/station42/2/{tag}X").status_code == 400
    assert len(bus.calls) == 1


def test_reset_on_a_201_charger_passes_scheduled_through(client, charger, bus):
    charger.protocol = "ocpp2.0.1"
    charger.save()
    bus.answers["Reset"] = {"status": "Scheduled"}
    assert client.get("/API/Reset/station42").json() == {"status": "Scheduled"}
    assert bus.calls == [("station42", "Reset", {"type": "OnIdle"})]


def test_remote_stop_without_an_open_transaction_is_a_failed_dependency(client, charger, bus):
    answer = client.get("/API/RemoteStopTransaction/station42/1")
    assert answer.status_code == 424
    assert bus.calls == []


def test_remote_stop_stops_the_open_transaction_of_the_connector(client, charger, bus):
    connector = charger.connectors.get(connector_id=2)
    ChargeSessionFactory(connector=connector, transaction_id="77")
    assert client.get("/API/RemoteStopTransaction/station42/2").json() == {"status": "Accepted"}
    assert bus.calls == [("station42", "RemoteStopTransaction", {"transactionId": 77})]


def test_remote_stop_ignores_a_finished_transaction(client, charger, bus):
    from django.utils import timezone

    connector = charger.connectors.get(connector_id=1)
    ChargeSessionFactory(connector=connector, transaction_id="5", status="completed", stopped_at=timezone.now())
    assert client.get("/API/RemoteStopTransaction/station42/1").status_code == 424


def test_a_staff_login_is_not_an_ocppcore_credential(operator, charger):
    from rest_framework.test import APIClient

    from tests.factories import StaffFactory

    staff = StaffFactory(operator=operator)
    browser = APIClient()
    assert browser.login(username=staff.username, password="staff-password")
    assert browser.get("/API/Status").status_code == 401


@pytest.mark.parametrize("path", ["/API/Reset", "/API/Reset/"])
def test_reset_without_a_charge_point_id_is_a_400(client, path):
    answer = client.get(path)
    assert answer.status_code == 400 and "charge point id" in answer.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["/API/ChangeConfiguration/station42/HeartbeatInterval/", "/API/ChangeConfiguration/station42/HeartbeatInterval"],
)
def test_change_configuration_without_a_value_is_refused_and_sends_nothing(client, charger, bus, path):
    answer = client.get(path)
    assert answer.status_code == 400 and "value" in answer.json()["detail"]
    assert bus.calls == []
