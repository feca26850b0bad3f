"""1.6 commands asked of a 2.0.1 charger: the request becomes valid 2.0.1, the answer valid 1.6."""

from __future__ import annotations

import pytest

from chargepoints.models import DeviceVariable
from ocpp_consumer import schemas
from ocpp_consumer.translate import NotTranslatable, translate_for_v201
from sessions_app.models import RemoteStartRequest
from tests.factories import ChargePointFactory, ConnectorFactory, EvseFactory, IdTokenFactory

pytestmark = pytest.mark.django_db

PROFILE_16 = {
    "chargingProfileId": 9,
    "stackLevel": 1,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0, "numberPhases": 3}],
    },
}
TX_PROFILE_16 = dict(PROFILE_16, chargingProfilePurpose="TxProfile")


@pytest.fixture
def cp():
    cp = ChargePointFactory(protocol="ocpp2.0.1")
    ConnectorFactory(charge_point=cp, connector_id=1)
    evse = EvseFactory(charge_point=cp, evse_id=2)
    ConnectorFactory(charge_point=cp, connector_id=3, evse=evse, evse_connector_id=2)  # 2nd plug of EVSE 2
    return cp


def translate(cp, action, payload):
    schemas.check("ocpp1.6", action, payload)  # the caller's request is valid 1.6
    translated = translate_for_v201(identity=cp.identity, action=action, payload=payload)
    if translated.local_answer is None:
        schemas.check("ocpp2.0.1", translated.action, translated.payload)
    return translated


def back(translated, action16, answer201):
    schemas.check("ocpp2.0.1", translated.action, answer201, response=True)
    answer = translated.answer_back(answer201) if translated.answer_back else answer201
    schemas.check("ocpp1.6", action16, answer, response=True)
    return answer


CASES = [
    ("Reset", {"type": "Hard"}, "Reset", {"type": "Immediate"}, {"status": "Scheduled"}, {"status": "Accepted"}),
    ("Reset", {"type": "Soft"}, "Reset", {"type": "OnIdle"}, {"status": "Rejected"}, {"status": "Rejected"}),
    (
        "RemoteStopTransaction",
        {"transactionId": 42},
        "RequestStopTransaction",
        {"transactionId": "42"},
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "UnlockConnector",
        {"connectorId": 3},
        "UnlockConnector",
        {"evseId": 2, "connectorId": 2},
        {"status": "OngoingAuthorizedTransaction"},
        {"status": "UnlockFailed"},
    ),
    (
        "UnlockConnector",
        {"connectorId": 1},
        "UnlockConnector",
        {"evseId": 1, "connectorId": 1},
        {"status": "UnknownConnector"},
        {"status": "NotSupported"},
    ),
    (
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
        "ChangeAvailability",
        {"operationalStatus": "Inoperative"},
        {"status": "Scheduled"},
        {"status": "Scheduled"},
    ),
    (
        "ChangeAvailability",
        {"connectorId": 3, "type": "Operative"},
        "ChangeAvailability",
        {"operationalStatus": "Operative", "evse": {"id": 2, "connectorId": 2}},
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "ClearChargingProfile",
        {"connectorId": 1, "chargingProfilePurpose": "ChargePointMaxProfile"},
        "ClearChargingProfile",
        {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "ChargingStationMaxProfile"}},
        {"status": "Unknown"},
        {"status": "Unknown"},
    ),
    (
        "TriggerMessage",
        {"requestedMessage": "DiagnosticsStatusNotification"},
        "TriggerMessage",
        {"requestedMessage": "LogStatusNotification"},
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
        {"status": "Rejected"},
        {"status": "Rejected"},
    ),
    (
        "CancelReservation",
        {"reservationId": 4},
        "CancelReservation",
        {"reservationId": 4},
        {"status": "Accepted"},
        {"status": "Accepted"},
    ),
    (
        "DataTransfer",
        {"vendorId": "acme", "data": "x"},
        "DataTransfer",
        {"vendorId": "acme", "data": "x"},
        {"status": "UnknownVendorId"},
        {"status": "UnknownVendorId"},
    ),
    ("ClearCache", {}, "ClearCache", {}, {"status": "Accepted"}, {"status": "Accepted"}),
]


@pytest.mark.parametrize(
    "action16,payload16,action201,payload201,answer201,answer16",
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_a_16_command_is_translated_both_ways(cp, action16, payload16, action201, payload201, answer201, answer16):
    translated = translate(cp, action16, payload16)
    assert (translated.action, translated.payload) == (action201, payload201)
    assert back(translated, action16, answer201) == answer16


def test_set_charging_profile_gets_the_201_shape(cp):
    translated = translate(cp, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": PROFILE_16})
    assert translated.payload["evseId"] == 0
    profile = translated.payload["chargingProfile"]
    assert profile["id"] == 9 and profile["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert profile["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0, "numberPhases": 3}
    ]
    assert back(translated, "SetChargingProfile", {"status": "Accepted"}) == {"status": "Accepted"}


def test_remote_start_becomes_request_start_with_a_recorded_remote_start_id(cp):
    token = IdTokenFactory(uid="CARD-9", token_type="ISO14443")
    translated = translate(
        cp, "RemoteStartTransaction", {"connectorId": 3, "idTag": "CARD-9", "chargingProfile": TX_PROFILE_16}
    )
    payload = translated.payload
    request = RemoteStartRequest.objects.get(pk=payload["remoteStartId"])
    assert payload["idToken"] == {"idToken": "CARD-9", "type": "ISO14443"} and payload["evseId"] == 2
    assert payload["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
    assert request.user == token.user and request.status == "sent" and request.evse_id == 2
    assert back(translated, "RemoteStartTransaction", {"status": "Accepted", "transactionId": "T-1"}) == {
        "status": "Accepted"
    }
    request.refresh_from_db()
    assert request.status == "accepted" and request.transaction_id == "T-1"


def test_a_native_request_start_without_remote_start_id_gets_one(cp):
    translated = translate_for_v201(
        identity=cp.identity,
        action="RequestStartTransaction",
        payload={"idToken": {"idToken": "APP-1", "type": "Central"}, "evseId": 1},
    )
    assert RemoteStartRequest.objects.filter(pk=translated.payload["remoteStartId"]).exists()
    assert translated.answer_back({"status": "Rejected"}) == {
        "status": "Rejected",
        "remoteStartId": translated.payload["remoteStartId"],
    }
    own = translate_for_v201(
        identity=cp.identity,
        action="RequestStartTransaction",
        payload={"idToken": {"idToken": "APP-1", "type": "Central"}, "remoteStartId": 77},
    )
    assert own.payload["remoteStartId"] == 77 and own.answer_back is None


def test_native_201_payloads_pass_through(cp):
    translated = translate_for_v201(identity=cp.identity, action="Reset", payload={"type": "OnIdle", "evseId": 1})
    assert (translated.action, translated.payload, translated.answer_back) == (
        "Reset",
        {"type": "OnIdle", "evseId": 1},
        None,
    )
    with pytest.raises(NotTranslatable):
        translate_for_v201(identity=cp.identity, action="Teleport", payload={})


def test_get_configuration_uses_the_standard_table_and_the_device_model(cp):
    DeviceVariable.objects.create(
        charge_point=cp, component_name="AcmeCtrlr", variable_name="FanSpeed", value="3", mutability="ReadOnly"
    )
    translated = translate(
        cp, "GetConfiguration", {"key": ["HeartbeatInterval", "FanSpeed", "NoSuchKey", "TxCtrlr.Custom"]}
    )
    asked = [(d["component"]["name"], d["variable"]["name"]) for d in translated.payload["getVariableData"]]
    assert asked == [("OCPPCommCtrlr", "HeartbeatInterval"), ("AcmeCtrlr", "FanSpeed"), ("TxCtrlr", "Custom")]
    answer = back(
        translated,
        "GetConfiguration",
        {
            "getVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "120",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                },
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "4",
                    "component": {"name": "AcmeCtrlr"},
                    "variable": {"name": "FanSpeed"},
                },
                {
                    "attributeStatus": "UnknownVariable",
                    "component": {"name": "TxCtrlr"},
                    "variable": {"name": "Custom"},
                },
            ]
        },
    )
    assert answer == {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "120"},
            {"key": "FanSpeed", "readonly": True, "value": "4"},
        ],
        "unknownKey": ["NoSuchKey", "TxCtrlr.Custom"],
    }
    # the values read are remembered in the device model
    assert DeviceVariable.objects.get(charge_point=cp, variable_name="HeartbeatInterval").value == "120"
    assert DeviceVariable.objects.get(charge_point=cp, variable_name="FanSpeed").value == "4"


def test_get_configuration_of_only_unknown_keys_is_answered_without_asking(cp):
    translated = translate(cp, "GetConfiguration", {"key": ["NoSuchKey"]})
    assert translated.local_answer == {"configurationKey": [], "unknownKey": ["NoSuchKey"]}


def test_change_configuration_becomes_set_variables(cp):
    translated = translate(cp, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"})
    assert translated.payload == {
        "setVariableData": [
            {
                "component": {"name": "SampledDataCtrlr"},
                "variable": {"name": "TxUpdatedInterval"},
                "attributeValue": "30",
            }
        ]
    }
    assert back(
        translated,
        "ChangeConfiguration",
        {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "SampledDataCtrlr"},
                    "variable": {"name": "TxUpdatedInterval"},
                }
            ]
        },
    ) == {"status": "Accepted"}
    assert DeviceVariable.objects.get(charge_point=cp, variable_name="TxUpdatedInterval").value == "30"
    unknown = translate(cp, "ChangeConfiguration", {"key": "Bogus", "value": "1"})
    assert unknown.local_answer == {"status": "NotSupported"}


def test_firmware_diagnostics_local_list_reservation_and_schedule(cp):
    t = translate(
        cp, "UpdateFirmware", {"location": "https://fw.example/x.bin", "retrieveDate": "2026-03-01T10:00:00Z"}
    )
    assert t.action == "UpdateFirmware" and t.payload["firmware"]["location"] == "https://fw.example/x.bin"
    assert back(t, "UpdateFirmware", {"status": "Accepted"}) == {}
    t = translate(cp, "GetDiagnostics", {"location": "ftp://logs.example/"})
    assert t.action == "GetLog" and t.payload["logType"] == "DiagnosticsLog"
    assert back(t, "GetDiagnostics", {"status": "Accepted", "filename": "d.log"}) == {"fileName": "d.log"}
    t = translate(
        cp,
        "SendLocalList",
        {
            "listVersion": 3,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "CARD-1", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"}}
            ],
        },
    )
    assert t.payload["localAuthorizationList"][0]["idTokenInfo"]["cacheExpiryDateTime"] == "2027-01-01T00:00:00Z"
    assert back(t, "SendLocalList", {"status": "VersionMismatch"}) == {"status": "VersionMismatch"}
    t = translate(
        cp,
        "ReserveNow",
        {"connectorId": 1, "expiryDate": "2026-03-01T10:00:00Z", "idTag": "CARD-1", "reservationId": 5},
    )
    assert t.payload["id"] == 5 and t.payload["evseId"] == 1
    assert back(t, "ReserveNow", {"status": "Occupied"}) == {"status": "Occupied"}
    t = translate(cp, "GetCompositeSchedule", {"connectorId": 1, "duration": 600})
    assert t.payload == {"duration": 600, "evseId": 1}
    assert (
        back(
            t,
            "GetCompositeSchedule",
            {
                "status": "Accepted",
                "schedule": {
                    "evseId": 1,
                    "duration": 600,
                    "scheduleStart": "2026-03-01T10:00:00Z",
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000.0}],
                },
            },
        )["chargingSchedule"]["duration"]
        == 600
    )


def test_readonly_follows_the_spec_until_the_station_reports_its_own(cp):
    translated = translate(cp, "GetConfiguration", {"key": ["ChargeProfileMaxStackLevel", "HeartbeatInterval"]})
    results = [
        {"attributeStatus": "Accepted", "attributeValue": value, **cv}
        for cv, value in zip(translated.payload["getVariableData"], ["8", "300"])
    ]
    answer = back(translated, "GetConfiguration", {"getVariableResult": results})
    # No report yet: ProfileStackLevel is ReadOnly in OCPP 2.0.1, HeartbeatInterval is not.
    assert answer["configurationKey"] == [
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"},
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    ]
    # The station's report (NotifyReport mutability) wins over the table.
    DeviceVariable.objects.filter(charge_point=cp, variable_name="ProfileStackLevel").update(mutability="ReadWrite")
    DeviceVariable.objects.filter(charge_point=cp, variable_name="HeartbeatInterval").update(mutability="ReadOnly")
    translated = translate(cp, "GetConfiguration", {"key": ["ChargeProfileMaxStackLevel", "HeartbeatInterval"]})
    answer = back(translated, "GetConfiguration", {"getVariableResult": results})
    assert [entry["readonly"] for entry in answer["configurationKey"]] == [False, True]


def test_a_native_request_start_without_a_token_type_gets_the_stored_one(cp):
    IdTokenFactory(uid="3f2c9a1e-7b4d-4e8a-9c61-0d5e8f2b7a43", token_type="eMAID")
    translated = translate_for_v201(
        identity=cp.identity,
        action="RequestStartTransaction",
        payload={"idToken": {"idToken": "3f2c9a1e-7b4d-4e8a-9c61-0d5e8f2b7a43"}, "evseId": 2},
    )
    schemas.check("ocpp2.0.1", translated.action, translated.payload)
    assert translated.payload["idToken"] == {"idToken": "3f2c9a1e-7b4d-4e8a-9c61-0d5e8f2b7a43", "type": "eMAID"}
    unknown = translate_for_v201(
        identity=cp.identity, action="RequestStartTransaction", payload={"idToken": {"idToken": "NOBODY"}}
    )
    assert unknown.payload["idToken"] == {"idToken": "NOBODY", "type": "Central"}
